"""pynenc-fastmem: a fast, thread-safe, in-process state backend for pynenc."""

from ._store import IMPLEMENTATION
from .state_backend import FastMemStateBackend

__version__ = "0.1.0"

__all__ = ["IMPLEMENTATION", "FastMemStateBackend", "__version__"]
