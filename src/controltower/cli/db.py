"""``controltower db``: schema migrations."""

from __future__ import annotations

import typer

from controltower.cli.context import state
from controltower.cli.logs import configure
from controltower.errors import UsageError

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: str = typer.Argument("head", metavar="REVISION", help="The revision to reach."),
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from alembic.util import CommandError

    from controltower.store import schema
    from controltower.store.engine import make_engine

    settings = state(ctx).settings()
    configure(settings.log_level, settings.log_format)
    engine = make_engine(settings.resolved_database_url)
    try:
        schema.upgrade(engine, revision)
        typer.echo(f"database at revision {schema.current_revision(engine)}", err=True)
    except CommandError as exc:  # a revision that does not exist, or lies behind the database
        known = schema.head_revision(engine)
        raise UsageError(f"cannot upgrade to {revision!r}: {exc} (newest: {known})") from exc
    finally:
        engine.dispose()


@app.command("current")
def current(ctx: typer.Context) -> None:
    """Print the revision the database is at."""
    from controltower.store import schema
    from controltower.store.engine import make_engine

    settings = state(ctx).settings()
    engine = make_engine(settings.resolved_database_url, create=False)
    try:
        typer.echo(schema.current_revision(engine) or "empty")
    finally:
        engine.dispose()
