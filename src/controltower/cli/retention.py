"""``controltower retention run``: archive expired data to Parquet and delete it."""

from __future__ import annotations

from typing import Annotated

import typer

from controltower.cli.context import configured, database, output_console, print_json

app = typer.Typer(help="Keep data only as long as configured.", no_args_is_help=True)


@app.command("run")
def run_command(
    ctx: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say what would be archived and deleted; change nothing."),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Archive (unless configured off) and delete data older than each kind's retention."""
    from controltower.telemetry.retention import run_retention

    settings = configured(ctx)
    with database(settings, migrate=not dry_run) as engine:  # a dry run changes nothing
        reports = run_retention(
            engine, settings.retention, settings.resolved_archive_dir, dry_run=dry_run
        )
    if json_output:
        print_json([vars(r) for r in reports])
        return
    console = output_console(stderr=True)
    verb = "would delete" if dry_run else "deleted"
    for r in reports:
        if r.cutoff is None:
            console.print(f"{r.kind}: kept forever")
            continue
        counts = ", ".join(f"{n} {table}" for table, n in r.rows.items())
        console.print(f"{r.kind}: older than {r.days} days ({r.cutoff:%Y-%m-%d}): {verb} {counts}")
        for path in r.archived:
            console.print(f"  archived to {path}")
