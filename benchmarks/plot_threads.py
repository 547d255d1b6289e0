"""Draw thread scaling against writer threads, one line per workload, from one or more runs.

Usage: ``python benchmarks/plot_threads.py docs/threads.png results.json [more.json ...]``

Each results file is one interpreter (3.13, 3.14t, ...): its panel shows, for every workload
of ``test_scaling`` without a reader, writes per second against the one-writer run beside
them (dotted: the references).
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(target: str, sources: list[str]) -> None:
    """Plot the scaling benchmarks of each file in ``sources`` into the image ``target``."""
    figure, axes = plt.subplots(1, len(sources), figsize=(5.5 * len(sources), 4.2), squeeze=False)
    for axis, source in zip(axes[0], sources, strict=True):
        with open(source) as handle:
            results = json.load(handle)
        lines: dict[str, list[tuple[int, float]]] = {}
        for benchmark in results["benchmarks"]:
            extra = benchmark["extra_info"]
            if "scaling" in extra and not extra["reader"]:
                lines.setdefault(extra["backend"], []).append((extra["writers"], extra["scaling"]))
        for label, points in sorted(lines.items()):
            points.sort()
            style = ":" if label.startswith("ref-") else "-"
            axis.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", label=label)
        python = results.get("machine_info", {}).get("python_version", "?")
        flags = [b["extra_info"].get("gil_enabled", True) for b in results["benchmarks"]]
        gil = all(flags)
        axis.set_title(f"Python {python}{'' if gil else ' (free-threaded)'}")
        axis.set_xlabel("writer threads")
        axis.set_xticks([1, 2, 4])
        axis.set_ylabel("writes per second / one writer's (paired rounds)")
        axis.set_ylim(bottom=0)
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
