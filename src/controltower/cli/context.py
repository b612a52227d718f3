"""What every command shares: the settings (``--config`` and the environment), the database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console

from controltower.cli.logs import configure
from controltower.errors import UsageError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

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


DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]
"""What a date option takes: a day, or a time (UTC)."""

RepositoryOption = Annotated[
    str | None,
    typer.Option(
        "--repo",
        "--repository",
        metavar="OWNER/NAME",
        help="Only this repository (case does not matter).",
    ),
]
"""A stored repository to narrow a command to; ``known_repository`` checks it."""


def known_repository(conn: Connection, name: str) -> str:
    """The stored spelling of the repository ``name`` (case ignored, as GitHub does); a
    ``UsageError`` naming it when none is stored."""
    from controltower.store.queries import stored_repository

    stored = stored_repository(conn, name)
    if stored is None:
        raise UsageError(f"--repo {name}: no repository {name} is stored")
    return stored


def as_stored(engine: Engine, names: list[str] | None) -> list[str]:
    """``names`` as the repositories are stored (any case, as GitHub takes them), each once; a
    repository not stored yet as given (a backfill may be its first)."""
    from controltower.store.engine import reading
    from controltower.store.queries import stored_repository

    if not names:
        return []
    with engine.connect() as conn:
        found = [stored_repository(reading(conn), name) or name for name in names]
    return list(dict.fromkeys(found))


PIPED_WIDTH = 1000
"""Columns of a console that is not a terminal: wide enough that a table's row stays one line."""


def output_console(*, stderr: bool = False) -> Console:
    """A console for tables and messages; written to a pipe or a file (``| grep``, ``> out``) it
    folds nothing at 80 columns, unless ``COLUMNS`` says how wide to be."""
    out = Console(stderr=stderr)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPED_WIDTH
    return out


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
    must be current already (and a SQLite file must exist: nothing is
    created), and ``MigrationRequired`` says to run ``controltower db upgrade``.
    """
    from controltower.store import schema
    from controltower.store.engine import make_engine

    engine = make_engine(settings.resolved_database_url, create=migrate)
    try:
        if migrate:
            schema.upgrade(engine)
        else:
            schema.ensure_current(engine)
        yield engine
    finally:
        engine.dispose()
