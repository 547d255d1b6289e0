"""Which store implementation is in use, and that the selection does what it says."""

import os
import subprocess
import sys
import sysconfig

import pytest

import pynenc_fastmem
from pynenc_fastmem import _store

from ..support import REQUIRE_EXTENSIONS

NOT_REQUIRED = "PYNENC_FASTMEM_REQUIRE_EXTENSIONS is not set: no compiled core is required"


@pytest.mark.skipif(not REQUIRE_EXTENSIONS, reason=NOT_REQUIRED)
def test_required_compiled_core_is_the_one_loaded() -> None:
    """Under PYNENC_FASTMEM_REQUIRE_EXTENSIONS a silent fallback to Python fails here."""
    from pynenc_fastmem import _store_c

    assert pynenc_fastmem.IMPLEMENTATION == "cython"
    assert _store.Store is _store_c.Store
    assert _store_c.__file__.endswith((".so", ".pyd"))


@pytest.mark.skipif(not _store.NO_EXTENSIONS, reason="PYNENC_FASTMEM_NO_EXTENSIONS is not set")
def test_no_extensions_forces_the_python_store() -> None:
    assert pynenc_fastmem.IMPLEMENTATION == "python"
    assert _store.Store.__module__ == "pynenc_fastmem._store_py"


def _implementation_in_fresh_interpreter(no_extensions: str) -> str:
    env = dict(os.environ, PYNENC_FASTMEM_NO_EXTENSIONS=no_extensions)
    return subprocess.run(
        [sys.executable, "-c", "import pynenc_fastmem; print(pynenc_fastmem.IMPLEMENTATION)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_environment_variable_selects_the_implementation_at_import() -> None:
    assert _implementation_in_fresh_interpreter("1") == "python"
    expected = "cython" if REQUIRE_EXTENSIONS else pynenc_fastmem.IMPLEMENTATION
    if not _store.NO_EXTENSIONS:
        assert _implementation_in_fresh_interpreter("0") == expected


@pytest.mark.skipif(not REQUIRE_EXTENSIONS, reason=NOT_REQUIRED)
def test_debug_build_is_the_one_loaded_when_asked_for() -> None:
    """The reliability run on a debug build must really load one (bounds and wraparound checks)."""
    from pynenc_fastmem import _store_c

    wanted = os.environ.get("PYNENC_FASTMEM_DEBUG_BUILD", "") not in ("", "0")
    assert _store_c.DEBUG_BUILD is wanted


FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@pytest.mark.skipif(not FREE_THREADED, reason="only a free-threaded build can turn its GIL back on")
def test_the_gil_stays_off_after_importing_the_package_and_pynenc() -> None:
    """A module not declared free-threading compatible would turn the GIL on, with a warning."""
    script = (
        "import importlib.util, sys\n"
        "from pynenc import PynencBuilder\n"
        "import pynenc_fastmem\n"
        "if importlib.util.find_spec('pynenc_fastmem._store_c'):\n"
        "    import pynenc_fastmem._store_c\n"
        "PynencBuilder().fast_memory().thread_runner().app_id('gil-probe').build().state_backend.stats()\n"
        "print(sys._is_gil_enabled())\n"
    )
    command = [sys.executable, "-W", "error::RuntimeWarning", "-c", script]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "False"
