"""What every command shares: the settings, loaded once from ``--config`` and the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import typer

if TYPE_CHECKING:
    from controltower.config import Settings


@dataclass
class State:
    """Global options, set by the root callback."""

    config: Path | None = None

    def settings(self, **overrides: Any) -> Settings:
        """Load and validate the settings (``ConfigurationError`` on bad ones)."""
        from controltower.config import load_settings

        return load_settings(self.config, **overrides)


def state(ctx: typer.Context) -> State:
    """The ``State`` of the running command."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def print_json(document: Any) -> None:
    """Print one JSON document on standard output."""
    typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2, default=str).decode())
