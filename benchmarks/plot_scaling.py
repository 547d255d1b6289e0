"""Draw time-range query time against store size, log-log, one line per backend.

Usage: ``python benchmarks/plot_scaling.py results.json docs/scaling.png``
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

QUERIES = ["iter_history_in_timerange", "iter_invocations_in_timerange"]


def main(source: str, target: str) -> None:
    """Plot the time-range benchmarks of ``source`` into the image ``target``."""
    with open(source) as handle:
        results = json.load(handle)
    figure, axes = plt.subplots(1, len(QUERIES), figsize=(11, 4.2), sharey=True)
    for axis, query in zip(axes, QUERIES, strict=True):
        lines: dict[str, list[tuple[int, float]]] = {}
        for benchmark in results["benchmarks"]:
            if benchmark["group"].startswith(f"{query} (") and "records" in benchmark["extra_info"]:
                extra = benchmark["extra_info"]
                lines.setdefault(extra["backend"], []).append(
                    (extra["records"], benchmark["stats"]["median"])
                )
        for backend, points in sorted(lines.items()):
            points.sort()
            axis.plot([p[0] for p in points], [p[1] * 1e6 for p in points], marker="o", label=backend)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(f"{query}\n(window: 0.1% of a day)", fontsize=10)
        axis.set_xlabel("history records stored")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("median query time (µs)")
    axes[-1].legend()
    figure.tight_layout()
    figure.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
