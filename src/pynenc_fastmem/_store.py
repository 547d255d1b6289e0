"""Selects the store implementation.

``PYNENC_FASTMEM_NO_EXTENSIONS`` set to anything but ``""`` or ``"0"`` forces the
pure-Python store.
"""

import os

NO_EXTENSIONS = os.environ.get("PYNENC_FASTMEM_NO_EXTENSIONS", "") not in ("", "0")

from ._store_py import Store  # noqa: E402

IMPLEMENTATION = "python"

__all__ = ["IMPLEMENTATION", "NO_EXTENSIONS", "Store"]
