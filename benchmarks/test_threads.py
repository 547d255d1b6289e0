"""Three writer threads and one reader: write throughput, reader errors, nothing lost.

The reader queries the first second of history and one invocation's history, either
back to back (``pause=0``) or as a monitor polling every millisecond (``pause=1ms``).
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from .conftest import DAY_START, STATUSES, history_record, invocation_pair, make_backend, ratio_info

PER_WRITER = int(os.environ.get("FASTMEM_BENCH_PER_WRITER", 3_000))
WRITERS = 3
RECORDS_PER_INVOCATION = 4


def _run(backend: Any, pause: float) -> dict[str, float]:
    done = threading.Event()
    errors: list[str] = []

    def write(writer: int) -> None:
        for i in range(PER_WRITER):
            index = writer * PER_WRITER + i
            pair = invocation_pair(index)
            invocation_id = pair[0].invocation_id
            backend._upsert_invocations([pair])
            for step in range(RECORDS_PER_INVOCATION):
                at = DAY_START + timedelta(milliseconds=index, microseconds=step)
                backend._add_histories([invocation_id], history_record(invocation_id, at, STATUSES[step]))
            backend._set_result(invocation_id, "result")

    def read() -> None:
        while not done.is_set():
            try:
                for _ in backend.iter_history_in_timerange(DAY_START, DAY_START + timedelta(seconds=1)):
                    pass
                backend.get_history(invocation_pair(0)[0].invocation_id)
                time.sleep(pause)
            except Exception as error:  # noqa: BLE001 - counted and reported, as MemStateBackend raises here
                errors.append(type(error).__name__)

    writers = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    reader = threading.Thread(target=read)
    started = time.perf_counter()
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    elapsed = time.perf_counter() - started
    done.set()
    reader.join()
    total = WRITERS * PER_WRITER
    lost = sum(
        len(backend.get_history(invocation_pair(i)[0].invocation_id)) != RECORDS_PER_INVOCATION
        for i in range(total)
    )
    return {"writes_per_second": total / elapsed, "reader_errors": len(errors), "lost_invocations": lost}


@pytest.mark.parametrize("pause", [0.0, 0.001], ids=["pause=0", "pause=1ms"])
@pytest.mark.parametrize("name", ["mem", "fastmem", "fastmem-python", "sqlite", "rustvello"])
def test_three_writers_one_reader(benchmark: Any, name: str, pause: float) -> None:
    invocations = WRITERS * PER_WRITER
    benchmark.group = (
        f"threads: {WRITERS} writers + 1 reader, reader pause {pause * 1000:g} ms "
        f"({invocations:,} invocations)"
    )
    make_backend(name)  # skips here, not inside the timed rounds, if the backend cannot be built
    runs: list[dict[str, float]] = []
    benchmark.pedantic(
        lambda backend: runs.append(_run(backend, pause)), setup=lambda: ((make_backend(name),), {}), rounds=3
    )
    ratio_info(
        benchmark,
        name,
        writes_per_second=sorted(run["writes_per_second"] for run in runs)[1],
        reader_errors=sum(run["reader_errors"] for run in runs),
        lost_invocations=sum(run["lost_invocations"] for run in runs),
    )
    if name.startswith("fastmem"):
        assert benchmark.extra_info["reader_errors"] == 0
        assert benchmark.extra_info["lost_invocations"] == 0
