"""Command line: ``python -m pynenc_fastmem {info,demo}``; ``--help`` says more."""

from __future__ import annotations

import argparse
import platform
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pynenc_fastmem",
        description="pynenc-fastmem: a fast, thread-safe, in-process state backend for pynenc.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("info", help="the version, the store in use (compiled or Python) and the interpreter")
    demo = commands.add_parser(
        "demo",
        help="run tasks and a workflow in this process, then time queries against MemStateBackend",
        description="Run tasks and a workflow on a ThreadRunner with FastMemStateBackend, print what the "
        "store holds, and time the same queries on a MemStateBackend holding the same records.",
    )
    demo.add_argument("--tasks", type=_positive, default=3000, help="how many tasks to run (default: 3000)")
    demo.add_argument(
        "--monitor", action="store_true", help="then serve pynenc's monitor for the app until Ctrl-C"
    )
    demo.add_argument("--port", type=int, default=0, help="the monitor's port (default: a free one)")
    demo.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="draw a progress bar (default: only on a terminal)")  # fmt: skip
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str]) -> int:
    """Run the command named in ``argv``; return the exit status."""
    try:
        arguments = _parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if arguments.command == "info":
        from . import IMPLEMENTATION, __version__
        from .builder import DEFAULT_PACE_SEC

        gil = getattr(sys, "_is_gil_enabled", lambda: True)()
        print(f"pynenc-fastmem {__version__}: the {IMPLEMENTATION} store")
        print(f"{platform.python_implementation()} {platform.python_version()}, GIL {'on' if gil else 'off'}")
        print(
            f"fast_memory()'s pace: the runner loop and the wait for a result sleep {DEFAULT_PACE_SEC} s "
            "(pynenc's default: 0.1 s); set runner_loop_sleep_time_sec and "
            "invocation_wait_results_sleep_time_sec in any of pynenc's ways to change it"
        )
        return 0
    from .demo import run

    run(arguments.tasks, monitor=arguments.monitor, port=arguments.port, progress=arguments.progress)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
