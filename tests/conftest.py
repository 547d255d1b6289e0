"""Shared fixtures: the store implementations, and pynenc apps on FastMemStateBackend.

pynenc's configuration gives ``PYNENC__*`` environment variables precedence over
``config_values``, so setting the state backend here, before any test module is
imported, makes the module-level apps of pynenc's conformance suites use
FastMemStateBackend too. Tests that need pynenc's own backends construct them
directly.
"""

import os

os.environ["PYNENC__STATE_BACKEND_CLS"] = "FastMemStateBackend"

import itertools  # noqa: E402
from types import ModuleType  # noqa: E402

import pytest  # noqa: E402
from pynenc import Pynenc, PynencBuilder  # noqa: E402

from pynenc_fastmem import _store_py  # noqa: E402

pytest_plugins = ["pynenc_tests.conftest"]

STORE_MODULES: dict[str, ModuleType] = {"python": _store_py}

_app_counter = itertools.count()


@pytest.fixture(params=sorted(STORE_MODULES))
def store_module(request: pytest.FixtureRequest) -> ModuleType:
    """Each store implementation in turn."""
    return STORE_MODULES[request.param]


@pytest.fixture
def store(store_module: ModuleType) -> _store_py.Store:
    """An empty store of each implementation in turn."""
    return store_module.Store()  # type: ignore[no-any-return]


@pytest.fixture
def app_instance() -> Pynenc:
    """A pynenc app on FastMemStateBackend (overrides pynenc_tests' memory/sqlite pair)."""
    return PynencBuilder().fast_memory().app_id(f"fastmem-{next(_app_counter)}").build()
