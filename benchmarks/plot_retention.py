"""Draw resident memory against invocations processed in the long-run benchmark.

Usage: ``python benchmarks/plot_retention.py results.json docs/retention.png``
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(source: str, target: str) -> None:
    """Plot the long-run benchmarks of ``source`` into the image ``target``."""
    with open(source) as handle:
        results = json.load(handle)
    runs = [("long run", "invocations processed"), ("app long run", "tasks run")]
    present = [run for run in runs if any(b["group"].startswith(run[0] + ":") for b in results["benchmarks"])]
    panels = max(len(present), 1)
    figure, axes = plt.subplots(1, panels, figsize=(7.5 * panels, 4.2), squeeze=False)
    for axis, (prefix, unit) in zip(axes[0], present, strict=False):
        for benchmark in results["benchmarks"]:
            if not benchmark["group"].startswith(prefix + ":"):
                continue
            extra = benchmark["extra_info"]
            samples = extra["samples"]
            label = f"{extra['backend']} ({extra['invocations_per_second']:,.0f}/s)"
            axis.plot([s[0] for s in samples], [s[1] / 2**20 for s in samples], label=label)
            axis.set_title(benchmark["group"], fontsize=10)
        axis.set_xlabel(unit)
        axis.set_ylabel("resident memory (MiB)")
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
