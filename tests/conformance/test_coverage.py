"""Every module that pynenc exports to plugins has a conformance module of ours."""

import re
from pathlib import Path

import pynenc_tests

CONFORMANCE = Path(__file__).parent
# The conformance modules: this module's subdirectories, one per suite of pynenc_tests.
MODULES = sorted(path for path in CONFORMANCE.glob("*/**/test_*.py"))
STAR_IMPORT = re.compile(r"^from (pynenc_tests\.\S+) import \*", re.MULTILINE)


def _star_imports(paths: list[Path]) -> list[str]:
    return [module for path in paths for module in STAR_IMPORT.findall(path.read_text())]


def test_each_exported_pynenc_test_module_is_run_from_its_own_module() -> None:
    exported = set(_star_imports(sorted(Path(pynenc_tests.__file__).parent.rglob("all_tests.py"))))
    ours = _star_imports(MODULES)
    assert exported, "found no all_tests.py in pynenc_tests"
    assert exported - set(ours) == set(), "exported test modules not run"
    assert len(ours) == len(set(ours)), "a pynenc test module is imported twice"
    for path in MODULES:
        assert len(_star_imports([path])) == 1, f"{path} must import exactly one module"
