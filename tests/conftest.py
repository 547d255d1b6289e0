"""Shared fixtures: the store implementations, and pynenc apps on the FastMem stack.

pynenc's configuration gives ``PYNENC__*`` environment variables precedence over
``config_values``, so setting the state backend and orchestrator here, before any
test module is imported, makes the module-level apps of pynenc's conformance suites
use FastMemStateBackend and FastMemOrchestrator too. Tests that need pynenc's own backends construct them
directly.
"""

import os

os.environ["PYNENC__STATE_BACKEND_CLS"] = "FastMemStateBackend"
os.environ["PYNENC__ORCHESTRATOR_CLS"] = "FastMemOrchestrator"

import itertools
from pathlib import Path
from types import ModuleType

import pytest
from pynenc import Pynenc, PynencBuilder

from pynenc_fastmem import _store_py

from .support import COMPILED_STORE_MISSING, REQUIRE_EXTENSIONS, STORE_MODULES

pytest_plugins = ["pynenc_tests.conftest"]

STORE_TESTS = Path(__file__).with_name("store")
_app_counter = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of ``tests/store/`` ``store``: what the debug build runs (``make test-debug``)."""
    for item in items:
        if STORE_TESTS in item.path.parents:
            item.add_marker(pytest.mark.store)


@pytest.fixture(params=sorted(STORE_MODULES))
def store_module(request: pytest.FixtureRequest) -> ModuleType:
    """Each store implementation in turn; the compiled one skipped, with the reason, where it is
    missing, and failing instead when ``PYNENC_FASTMEM_REQUIRE_EXTENSIONS`` is set."""
    module = STORE_MODULES[request.param]
    if module is None:
        if REQUIRE_EXTENSIONS:
            pytest.fail(f"PYNENC_FASTMEM_REQUIRE_EXTENSIONS is set but {COMPILED_STORE_MISSING}")
        pytest.skip(COMPILED_STORE_MISSING)
    return module


@pytest.fixture
def store(store_module: ModuleType) -> _store_py.Store:
    """An empty store of each implementation in turn."""
    return store_module.Store()  # type: ignore[no-any-return]


@pytest.fixture
def app_instance() -> Pynenc:
    """A pynenc app on FastMemStateBackend (overrides pynenc_tests' memory/sqlite pair)."""
    return PynencBuilder().fast_memory().app_id(f"fastmem-{next(_app_counter)}").build()
