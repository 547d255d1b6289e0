"""Shared fixtures: the store implementations, and pynenc apps on FastMemStateBackend.

pynenc's configuration gives ``PYNENC__*`` environment variables precedence over
``config_values``, so setting the state backend here, before any test module is
imported, makes the module-level apps of pynenc's conformance suites use
FastMemStateBackend too. Tests that need pynenc's own backends construct them
directly.
"""

import os

os.environ["PYNENC__STATE_BACKEND_CLS"] = "FastMemStateBackend"

import importlib
import itertools
from types import ModuleType

import pytest
from pynenc import Pynenc, PynencBuilder

from pynenc_fastmem import _store, _store_py

pytest_plugins = ["pynenc_tests.conftest"]

REQUIRE_EXTENSIONS = os.environ.get("PYNENC_FASTMEM_REQUIRE_EXTENSIONS", "") not in ("", "0")


def _store_modules() -> dict[str, ModuleType | None]:
    """The store implementations to test; ``None`` for a compiled one that failed to import."""
    modules: dict[str, ModuleType | None] = {"python": _store_py}
    if _store.NO_EXTENSIONS:
        return modules
    try:
        modules["cython"] = importlib.import_module("pynenc_fastmem._store_c")
    except ImportError:
        if REQUIRE_EXTENSIONS:
            modules["cython"] = None
    return modules


STORE_MODULES = _store_modules()

_app_counter = itertools.count()


@pytest.fixture(params=sorted(STORE_MODULES))
def store_module(request: pytest.FixtureRequest) -> ModuleType:
    """Each store implementation in turn; the compiled one failing if required but missing."""
    module = STORE_MODULES[request.param]
    if module is None:
        pytest.fail("PYNENC_FASTMEM_REQUIRE_EXTENSIONS is set but pynenc_fastmem._store_c does not import")
    return module


@pytest.fixture
def store(store_module: ModuleType) -> _store_py.Store:
    """An empty store of each implementation in turn."""
    return store_module.Store()  # type: ignore[no-any-return]


@pytest.fixture
def app_instance() -> Pynenc:
    """A pynenc app on FastMemStateBackend (overrides pynenc_tests' memory/sqlite pair)."""
    return PynencBuilder().fast_memory().app_id(f"fastmem-{next(_app_counter)}").build()
