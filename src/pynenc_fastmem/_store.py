"""Selects the store implementation: the Cython core where it is built, else pure Python.

``PYNENC_FASTMEM_NO_EXTENSIONS`` set to anything but ``""`` or ``"0"`` forces the
pure-Python store.
"""

import os
from typing import TYPE_CHECKING

NO_EXTENSIONS = os.environ.get("PYNENC_FASTMEM_NO_EXTENSIONS", "") not in ("", "0")

IMPLEMENTATION: str
if TYPE_CHECKING:
    from ._store_py import Store, micros
elif NO_EXTENSIONS:
    from ._store_py import Store, micros
else:
    try:
        from ._store_c import Store, micros
    except ImportError:
        from ._store_py import Store, micros

IMPLEMENTATION = "python" if Store.__module__.endswith("_store_py") else "cython"

__all__ = ["IMPLEMENTATION", "NO_EXTENSIONS", "Store", "micros"]
