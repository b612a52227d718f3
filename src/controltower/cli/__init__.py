"""The ``controltower`` command line: one module per command group, thin over the services."""

from controltower.cli.app import main

__all__ = ["main"]
