"""A MemoryError or a KeyboardInterrupt anywhere in a store operation never corrupts, hangs or crashes.

Each sweep runs in a child process (``tests/store/fault_sweep.py``), so a crash fails
the test instead of ending the run; see that module for what is checked after
every fault. ``FASTMEM_FAULT_POINTS`` caps the injection points per operation
(default 2000: every operation here runs to its end below that).
"""

import dis
import json
import os
import subprocess
import sys
from pathlib import Path
from types import CodeType, ModuleType

import pytest

from pynenc_fastmem import _locking, _orchestration_py, _steps, _store_common, _store_py

SWEEP = Path(__file__).with_name("fault_sweep.py")
MAX_POINTS = int(os.environ.get("FASTMEM_FAULT_POINTS", 2000))
MIN_POINTS = 200  # every operation is faulted at least this far, or to its end


@pytest.mark.parametrize("grown", [False, True], ids=["fresh", "grown"])
@pytest.mark.parametrize("kind", ["nomemory", "interrupt"])
def test_every_operation_survives_a_fault_at_every_point(
    store_module: object, kind: str, grown: bool
) -> None:
    """On a small store, and on one grown to the edge of a resize with retention evicting."""
    store = "python" if store_module.__name__.endswith("_store_py") else "cython"  # type: ignore[attr-defined]
    finished = subprocess.run(
        [
            sys.executable,
            str(SWEEP),
            store,
            kind,
            "--max-points",
            str(MAX_POINTS),
            *(["--grown"] if grown else []),
        ],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert finished.returncode in (0, 1), (
        f"the sweep crashed or hung (exit {finished.returncode}):\n{finished.stdout[-3000:]}\n"
        f"{finished.stderr[-3000:]}"
    )
    report = json.loads(finished.stdout.splitlines()[-1])
    assert report["failures"] == [], json.dumps(report["failures"][:5], indent=1)
    for name, operation in report["operations"].items():
        # Run to its end (an operation that allocates nothing completes at once), or far enough.
        assert operation["completed"] or operation["points"] >= MIN_POINTS, (name, operation)
    assert sum(operation["faults"] for operation in report["operations"].values()) > 0


def _code_objects(code: CodeType) -> list[CodeType]:
    nested = [const for const in code.co_consts if isinstance(const, CodeType)]
    return [code, *[inner for const in nested for inner in _code_objects(const)]]


@pytest.mark.skipif(
    sys.version_info >= (3, 14), reason="3.14 pushes the offset as a tagged int, allocating nothing"
)
@pytest.mark.parametrize(
    "module", [_store_py, _orchestration_py, _steps, _store_common, _locking], ids=lambda m: m.__name__
)
def test_no_cleanup_handler_covers_code_where_unwinding_allocates(module: ModuleType) -> None:
    """CPython 3.12/3.13 loop forever unwinding an exception out of memory at a high offset.

    Entering a cleanup handler (a ``with`` exit, an ``except`` that re-raises)
    pushes the faulting instruction's offset as an int; above 256 that int is
    allocated, and when the allocation fails the interpreter unwinds to the same
    handler again. So in the code a fault can reach, no instruction guarded by
    such a handler lies past code unit 256 (byte 512).
    """
    source = compile(Path(module.__file__).read_text(), module.__file__, "exec")
    late = [
        f"{code.co_qualname} (bytes {entry.start}-{entry.end})"
        for code in _code_objects(source)
        for entry in dis.Bytecode(code).exception_entries
        if entry.lasti and entry.end > 514
    ]
    assert late == [], "move these handlers into shorter functions"


CORRUPTIONS = {
    "a sublist emptied": "index._lists[0].clear()",
    "a sublist dropped": "del index._lists[0]",
    "a max dropped": "del index._maxes[-1]",
    "a sublist that is not a list": "index._lists[0] = tuple(index._lists[0])",
    "an item that is not an entry": "index._lists[0][0] = 'not an entry'",
    "the sublists replaced": "index._lists = None",
}

_READ_AFTER_CORRUPTION = """
import sys
from pynenc_fastmem import {module} as module
store = module.Store(stripes=4)
for n in range(3000):
    store.add_histories([f"i{{n % 40}}"], n, n)
expected = [r for batch in store.history_in_range(0, 10**6) for r in batch]
index = store._state().time_index
{corruption}
answer = [r for batch in store.history_in_range(0, 10**6) for r in batch]
assert answer == expected, "a corrupted time index was read"
store._check()
print("rebuilt")
"""


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_misshapen_time_index_is_rebuilt_never_read_out_of_bounds(
    store_module: ModuleType, corruption: str
) -> None:
    """A range read checks the SortedList's shape as it goes; in a child, so a crash fails here."""
    script = _READ_AFTER_CORRUPTION.format(
        module=store_module.__name__.rsplit(".", 1)[1], corruption=CORRUPTIONS[corruption]
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip() == "rebuilt"
