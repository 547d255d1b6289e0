"""One long workload in a process of its own, printing resident memory over time as JSON.

Usage: ``python benchmarks/retention_workload.py BACKEND INVOCATIONS [MAX_FINISHED]``, where
BACKEND is ``mem`` or ``fastmem``. Each invocation gets its DTOs, six history records
(the last one final) and a result, through the backend's raw methods. A process of its
own gives each run the same starting memory, which the benchmark compares.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta

from pynenc.invocation.status import InvocationStatus
from pynenc.state_backend import MemStateBackend

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.conftest import DAY_START, history_record, invocation_pair, new_app
from pynenc_fastmem import FastMemStateBackend

LIFECYCLE = [
    InvocationStatus.REGISTERED,
    InvocationStatus.PENDING,
    InvocationStatus.RUNNING,
    InvocationStatus.RETRY,
    InvocationStatus.RUNNING,
    InvocationStatus.SUCCESS,
]
SAMPLES = 100


def resident_bytes() -> int:
    """This process's resident set size now (Linux ``/proc``)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main(backend_name: str, invocations: int, max_finished: int) -> None:
    """Run the workload and print ``{"samples": [[done, rss, seconds], ...], "seconds": ...}``."""
    if backend_name == "mem":
        backend = MemStateBackend(new_app())
    else:
        backend = FastMemStateBackend(new_app(max_finished_invocations=max_finished))
    every = max(invocations // SAMPLES, 1)
    samples = [[0, resident_bytes(), 0.0]]
    started = time.perf_counter()
    for index in range(invocations):
        pair = invocation_pair(index)
        invocation_id = pair[0].invocation_id
        backend._upsert_invocations([pair])
        for step, status in enumerate(LIFECYCLE):
            at = DAY_START + timedelta(microseconds=index * 6 + step)
            backend._add_histories([invocation_id], history_record(invocation_id, at, status))
            if status is InvocationStatus.RUNNING:
                backend._set_result(invocation_id, f'{{"value": {index}}}')
        if (index + 1) % every == 0:
            samples.append([index + 1, resident_bytes(), time.perf_counter() - started])
    seconds = time.perf_counter() - started
    stats = backend.stats() if isinstance(backend, FastMemStateBackend) else {}
    print(json.dumps({"samples": samples, "seconds": seconds, "stats": stats}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
