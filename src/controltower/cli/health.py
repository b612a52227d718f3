"""``controltower health``: whether this installation works, with an exit status to act on."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from controltower.cli.context import output_console, print_json, state

STYLES = {
    "ok": "green",
    "info": "cyan",
    "degraded": "yellow",
    "failing": "red",
    "skipped": "dim",
    "healthy": "green",
}


def health_command(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the database, queue backlog, ingest freshness, models and notifications.

    Exit status: 0 healthy, 1 degraded, 2 failing.
    """
    from controltower.bootstrap.health import check_health, without_database
    from controltower.errors import DatabaseMissing
    from controltower.store.engine import make_engine

    settings = state(ctx).settings()
    try:
        engine = make_engine(settings.resolved_database_url, create=False)
    except DatabaseMissing as exc:  # a check creates nothing, not even an empty file
        health = without_database(str(exc), settings)
    else:
        try:
            health = check_health(engine, settings)
        finally:
            engine.dispose()
    if json_output:
        print_json(health.document())
    else:
        table = Table(title=f"controltower is {health.status}", title_justify="left")
        table.add_column("check")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        for check in health.checks:
            style = STYLES[check.status]
            table.add_row(check.name, f"[{style}]{check.status}[/]", check.detail)
        output_console().print(table)
    raise typer.Exit(health.exit_code)
