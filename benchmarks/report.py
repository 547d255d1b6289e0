"""Print a pytest-benchmark JSON file as a Markdown table of ratios to MemStateBackend.

Usage: ``python benchmarks/report.py results.json > docs/benchmarks.md``

Each row is one benchmark group. A figure is a median time, except where the group
measures memory (bytes per invocation) or throughput (writes or tasks per second);
the ratio is the backend's figure divided by MemStateBackend's, so below 1 is better
for times and bytes, above 1 is better for throughput.
"""

from __future__ import annotations

import json
import sys
from typing import Any

COLUMNS = [
    "dict",
    "mem",
    "fastmem",
    "fastmem-before",
    "fastmem-live",
    "fastmem-retention",
    "fastmem-python",
    "sqlite",
    "rustvello",
]
THROUGHPUT = ("writes_per_second", "tasks_per_second", "invocations_per_second")


def figure(benchmark: dict[str, Any]) -> tuple[float, str]:
    """The figure a benchmark reports, and its unit."""
    extra = benchmark["extra_info"]
    if "replay_seconds" in extra:
        return extra["replay_seconds"], "s"
    if "backend_cpu_seconds" in extra:  # the backend's share of an end-to-end run
        return extra["backend_cpu_seconds"], "s"
    if "bytes_per_invocation" in extra:
        return extra["bytes_per_invocation"], "bytes"
    for key in THROUGHPUT:
        if key in extra:
            return extra[key], key.replace("_per_second", "/s")
    return benchmark["stats"]["median"], "s"


def human(value: float, unit: str) -> str:
    """``value`` in ``unit``, scaled for reading."""
    if unit == "s":
        for scale, name in ((1e-6, "ns"), (1e-3, "µs"), (1, "ms")):
            if value < scale:
                return f"{value / scale * 1e3:,.3g} {name}"
        return f"{value:,.3g} s"
    return f"{value:,.0f} {unit}"


def rustvello_status() -> str:
    """Whether pynenc-rustvello's RustMemStateBackend can be built here, in words."""
    try:
        from pynenc import Pynenc
        from pynenc_rustvello.state_backend import RustMemStateBackend
    except ImportError as error:
        return f"not installed ({error})"
    try:
        RustMemStateBackend(Pynenc(config_values={"app_id": "report-probe"}))
    except TypeError as error:
        return f"cannot be constructed on this pynenc: {error}"
    return "constructed and measured"


SCALING_REFERENCES = """
- `fastmem`, `fastmem-python`: the compiled and the Python store, called directly.
- `adapter: ...`: what a pynenc runner sends per invocation (a DTO pair upsert, two history
  records, a result), with the pynenc objects made by each writer, through the backend's raw
  methods: FastMemStateBackend on each store beside pynenc's MemStateBackend.
- `ref-striped-dicts`: the store-level writes into 16 plain dicts chosen by the id's hash, with no
  lock: the shape that lets writers scale on free-threaded Python, the bar for the store.
- `ref-cpu-loop`: the same calls doing arithmetic on no shared data: what threads of pure Python
  reach on this machine.
- `ref-shared-dict (what not to do)`: every writer writing one set of dicts, MemStateBackend's
  shape. On free-threaded Python each write locks the dict, so it cannot scale: it is no
  reference for scaling.
"""


def scaling_table(results: dict[str, Any]) -> str:
    """The writer-thread runs: throughput per writer count, as ratios to one writer (see test_scaling)."""
    cells: dict[tuple[str, bool, float], dict[int, str]] = {}
    for benchmark in results["benchmarks"]:
        extra = benchmark["extra_info"]
        if "scaling" in extra:
            low, high = extra.get("scaling_quartiles", (extra["scaling"], extra["scaling"]))
            cell = (
                f"{extra['invocations_per_second']:,.0f}/s ({extra['scaling']:.2f}×, quartiles "
                f"{low:.2f} to {high:.2f}; CPU/inv {extra['cpu_per_invocation']:.2f}×"
            )
            if "reader_kept" in extra:
                cell += f"; {extra['reader_kept']:.2f}× of no reader, {extra['reader_errors']} reader errors"
            pause = extra.get("reader_pause_ms") if extra["reader"] else None
            cells.setdefault((extra["backend"], pause is not None, pause or 0), {})[extra["writers"]] = (
                cell + ")"
            )
    if not cells:
        return ""
    lines = ["| workload | 1 writer | 2 writers | 4 writers |", "|---|---|---|---|"]
    for (name, reader, pause), row in sorted(cells.items()):
        label = name + (" + range reader" if reader else "") + (f" every {pause:g} ms" if pause else "")
        lines.append(f"| {label} | " + " | ".join(row.get(n, "-") for n in (1, 2, 4)) + " |")
    return "\n".join(lines)


def replay_methods_table(results: dict[str, Any]) -> str:
    """Per trace, each method's time against MemStateBackend's, for each FastMemStateBackend mode."""
    replays: dict[str, dict[str, dict[str, Any]]] = {}
    for benchmark in results["benchmarks"]:
        extra = benchmark["extra_info"]
        if "per_method" in extra:
            replays.setdefault(benchmark["group"], {})[extra["backend"]] = extra
    modes = ["fastmem", "fastmem-live", "fastmem-python"]
    lines = [
        "| trace | method | calls | mem | " + " | ".join(modes) + " |",
        "|---|---|---|---|" + "---|" * len(modes),
    ]
    for group, row in replays.items():
        mem = row.get("mem")
        if mem is None:
            continue
        for method, seconds in sorted(mem["per_method"].items(), key=lambda item: -item[1]):
            calls = mem["calls"][method]
            cells = [
                f"{row[mode]['per_method'][method] / seconds:.2f}×" if mode in row else "-" for mode in modes
            ]
            lines.append(
                f"| {group.split(' (')[0].removeprefix('replay: ')} | `{method}` | {calls:,} | "
                f"{seconds / calls * 1e6:.2f} µs | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines) if len(lines) > 2 else ""


def table(results: dict[str, Any]) -> str:
    """The Markdown table of every group in ``results`` but the scaling runs."""
    groups: dict[str, dict[str, tuple[float, str]]] = {}
    for benchmark in results["benchmarks"]:
        if "scaling" in benchmark["extra_info"]:
            continue
        groups.setdefault(benchmark["group"], {})[benchmark["extra_info"]["backend"]] = figure(benchmark)
    present = [name for name in COLUMNS if any(name in row for row in groups.values())]
    lines = [
        "| benchmark | " + " | ".join(present) + " |",
        "|---|" + "---|" * len(present),
    ]
    for group, row in groups.items():
        reference = row.get("mem")
        cells = []
        for name in present:
            if name not in row:
                cells.append("-")
                continue
            value, unit = row[name]
            ratio = f" ({value / reference[0]:.3g}×)" if reference and name != "mem" else ""
            cells.append(human(value, unit) + ratio)
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(path: str) -> None:
    """Print the report of the results in ``path``."""
    with open(path) as handle:
        results = json.load(handle)
    machine = results.get("machine_info", {})
    print(f"# Benchmarks: Python {machine.get('python_version', '?')}\n")
    print(f"Python {machine.get('python_version', '?')} on {machine.get('cpu', {}).get('brand_raw', '?')}, ")
    print(f"{results.get('datetime', '?')}. Ratios are to MemStateBackend in the same run (×).\n")
    print(table(results))
    methods = replay_methods_table(results)
    if methods:
        print(
            "\nReplays, method by method: MemStateBackend's time per call, and each mode's total "
            "time in the method against MemStateBackend's (each method's median over the rounds):\n"
        )
        print(methods)
    scaling = scaling_table(results)
    if scaling:
        print(
            "\nWriter threads (`benchmarks/test_scaling.py`, whose docstring says what each workload "
            "and reference is): invocations per second, the median of paired rounds; in brackets "
            "the ratio to one writer run beside it with its quartiles, the writers' CPU time per "
            "invocation against that run's, and with a reader, the writers' rate against the same "
            "writers without it:\n"
        )
        print(scaling)
        print(SCALING_REFERENCES)
    long_runs = [b for b in results["benchmarks"] if "final_rss_mib" in b["extra_info"]]
    if long_runs:
        print("\nResident memory in the long runs (MiB, at the end / the most at any sample):\n")
        for benchmark in long_runs:
            extra = benchmark["extra_info"]
            peak = max(sample[1] for sample in extra["samples"]) / 2**20
            run = benchmark["group"].split(":")[0]
            line = f"- {run}, {extra['backend']}: {extra['final_rss_mib']:,.0f} / {peak:,.0f}"
            if "rss_after_first_tenth_mib" in extra:
                line += f" (after the first tenth: {extra['rss_after_first_tenth_mib']:,.0f})"
            if "orchestrator_invocations" in extra:
                line += f"; the orchestrator still tracks {extra['orchestrator_invocations']:,} invocations"
            print(line)
    print(f"\n`rustvello` (pynenc-rustvello RustMemStateBackend): {rustvello_status()}.")


if __name__ == "__main__":
    main(sys.argv[1])
