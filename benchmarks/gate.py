"""Compare the gate's ratios with the committed baseline; fail on any ratio 25% worse.

Usage: ``python benchmarks/gate.py results.json benchmarks/baseline.json [--write]``

Each ratio is FastMemStateBackend's time over MemStateBackend's in the same run (below 1
is better), so a runner slower or faster than the baseline's moves both alike. The table
goes to standard output and, on GitHub, to the job summary. ``--write`` makes the results
the new baseline instead.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

TOLERANCE = 1.25


def ratios(path: str) -> dict[str, float]:
    """The gate's ratio of each benchmark in a pytest-benchmark JSON file, by name."""
    results = json.loads(Path(path).read_text())
    return {
        b["group"].removeprefix("gate: "): b["extra_info"]["gate_ratio"]
        for b in results["benchmarks"]
        if "gate_ratio" in b["extra_info"]
    }


def main(results_path: str, baseline_path: str, write: bool) -> int:
    """Print the comparison; return 1 if a ratio got more than 25% worse, or is new or gone."""
    current = ratios(results_path)
    if write:
        Path(baseline_path).write_text(json.dumps(dict(sorted(current.items())), indent=2) + "\n")
        print(f"wrote {len(current)} ratios to {baseline_path}")
        return 0
    baseline = json.loads(Path(baseline_path).read_text())
    lines = ["| benchmark | baseline | now | change | |", "|---|---|---|---|---|"]
    failed = 0
    for name in sorted(baseline.keys() | current.keys()):
        before, now = baseline.get(name), current.get(name)
        if before is None or now is None:
            failed += 1
            lines.append(f"| {name} | {before or '-'} | {now or '-'} | | missing |")
            continue
        worse = now > before * TOLERANCE
        failed += worse
        verdict = "**more than 25% worse**" if worse else "ok"
        lines.append(f"| {name} | {before:.3f}× | {now:.3f}× | {now / before - 1:+.0%} | {verdict} |")
    table = "\n".join(lines)
    print(table)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as handle:
            handle.write("### Benchmark gate (FastMemStateBackend / MemStateBackend)\n\n" + table + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], "--write" in sys.argv[3:]))
