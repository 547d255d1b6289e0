"""Builds the Cython core, ``pynenc_fastmem._store_c``.

- ``PYNENC_FASTMEM_NO_EXTENSIONS=1`` (or a Python other than CPython): no extension.
- ``PYNENC_FASTMEM_REQUIRE_EXTENSIONS=1``: a failed build is an error (CI, wheels).
- ``PYNENC_FASTMEM_DEBUG_BUILD=1``: ``-O0 -g3`` and Cython's bounds and wraparound checks.

Otherwise a missing Cython or compiler leaves the pure-Python store, with a warning.
"""

import os
import platform
import warnings

from setuptools import Extension, setup


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


NO_EXTENSIONS = _flag("PYNENC_FASTMEM_NO_EXTENSIONS") or platform.python_implementation() != "CPython"
REQUIRE_EXTENSIONS = _flag("PYNENC_FASTMEM_REQUIRE_EXTENSIONS")
DEBUG_BUILD = _flag("PYNENC_FASTMEM_DEBUG_BUILD")


def extensions() -> list[Extension]:
    """The compiled core, or nothing when it is disabled or Cython is missing."""
    if NO_EXTENSIONS:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise
        warnings.warn("Cython is not installed: pynenc-fastmem uses its pure-Python store", stacklevel=1)
        return []
    compile_args = ["-O0", "-g3"] if DEBUG_BUILD else ["-O3"]
    modules = cythonize(
        [
            Extension(
                "pynenc_fastmem._store_c",
                ["src/pynenc_fastmem/_store_c.pyx"],
                extra_compile_args=compile_args,
                define_macros=[("PYNENC_FASTMEM_DEBUG", "1" if DEBUG_BUILD else "0")],
            )
        ],
        compiler_directives={"boundscheck": DEBUG_BUILD, "wraparound": DEBUG_BUILD},
        force=True,  # the directives depend on the environment, which Cython's timestamps miss
    )
    # cythonize() drops Extension(optional=True): set it on what it returns.
    for module in modules:
        module.optional = not REQUIRE_EXTENSIONS
    return modules


setup(ext_modules=extensions())
