"""The ``benchbench`` command line: one module per command group, each parsing its options,
calling the Python API (:mod:`benchbench.api`) and printing what it returns."""

from .main import cli, main

__all__ = ["cli", "main"]
