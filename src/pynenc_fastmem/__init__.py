"""pynenc-fastmem: a fast, thread-safe, in-process state backend for pynenc."""

from ._store import IMPLEMENTATION
from ._version import __version__
from .state_backend import FastMemStateBackend

__all__ = ["IMPLEMENTATION", "FastMemStateBackend", "__version__"]
