"""Build script: the package is pure Python until the Cython core is added."""

from setuptools import setup

setup()
