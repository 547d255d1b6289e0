"""pynenc-fastmem: a fast, thread-safe, in-process state backend for pynenc."""

from ._store import IMPLEMENTATION
from ._store_common import StoreStats
from ._version import __version__
from .errors import EvictedError, InvocationEvictedError
from .state_backend import FastMemStateBackend
from .transfer import TransferCounts

__all__ = [
    "IMPLEMENTATION",
    "EvictedError",
    "FastMemStateBackend",
    "InvocationEvictedError",
    "StoreStats",
    "TransferCounts",
    "__version__",
]
