"""Record the trace of an app shape: ``python -m benchmarks.traces record SHAPE [--scale N]``.

Writes ``benchmarks/traces/SHAPE.trace.xz`` (run from the repository's root, the package
installed); ``replay SHAPE`` replays it on FastMemStateBackend and MemStateBackend and
prints each one's time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .recording import SHAPES, Trace, record_shape, replay

HERE = Path(__file__).parent


def main() -> None:
    """Parse the command line and record or replay."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["record", "replay"])
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("--scale", type=int, default=None, help="tasks to run (default: the shape's)")
    arguments = parser.parse_args()
    path = HERE / f"{arguments.shape}.trace.xz"
    if arguments.action == "record":
        started = time.perf_counter()
        trace = record_shape(arguments.shape, arguments.scale)
        size = trace.save(path)
        took = time.perf_counter() - started
        print(f"{path}: {len(trace.calls):,} calls, {size / 2**20:.2f} MiB, recorded in {took:.1f} s")
        return
    from pynenc import Pynenc
    from pynenc.state_backend import MemStateBackend

    from pynenc_fastmem import FastMemStateBackend

    for backend_cls in (MemStateBackend, FastMemStateBackend):
        backend = backend_cls(Pynenc(config_values={"app_id": f"replay-{backend_cls.__name__}"}))
        result = replay(Trace.load(path), backend)
        print(f"{backend_cls.__name__}: {result.total:.3f} s over {sum(result.calls.values()):,} calls")


if __name__ == "__main__":
    main()
