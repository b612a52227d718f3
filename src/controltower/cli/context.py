"""What every command shares: the settings (``--config`` and the environment), the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import typer

from controltower.cli.logs import configure

if TYPE_CHECKING:
    from sqlalchemy import Engine

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


def configured(ctx: typer.Context) -> Settings:
    """The settings, with the logs set up as they say."""
    settings = state(ctx).settings()
    configure(settings.log_level, settings.log_format)
    return settings


@contextmanager
def database(settings: Settings, *, migrate: bool = False) -> Iterator[Engine]:
    """An engine on the configured database, disposed when the block ends.

    With ``migrate`` the schema is first brought up to date (the commands that
    store data, which may be the first a new installation runs); otherwise it
    must be current already, and ``MigrationRequired`` says to run
    ``controltower db upgrade``.
    """
    from controltower.store import schema
    from controltower.store.engine import make_engine

    engine = make_engine(settings.resolved_database_url)
    try:
        if migrate:
            schema.upgrade(engine)
        else:
            schema.ensure_current(engine)
        yield engine
    finally:
        engine.dispose()
