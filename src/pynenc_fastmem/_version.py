"""The package version, read by ``pyproject.toml`` and ``pynenc_fastmem.__version__``."""

__version__ = "0.1.0"
