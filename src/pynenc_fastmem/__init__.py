"""pynenc-fastmem: a fast, thread-safe, in-process state backend and orchestrator for pynenc."""

from ._store import IMPLEMENTATION
from ._store_common import StoreStats
from ._version import __version__
from .errors import EvictedError, InvocationEvictedError
from .orchestrator import FastMemOrchestrator
from .state_backend import FastMemStateBackend
from .transfer import TransferCounts

__all__ = [
    "IMPLEMENTATION",
    "EvictedError",
    "FastMemOrchestrator",
    "FastMemStateBackend",
    "InvocationEvictedError",
    "StoreStats",
    "TransferCounts",
    "__version__",
]
