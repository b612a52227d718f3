"""``controltower export``: runs (interchange format or flat), jobs and metrics, CSV or Parquet."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from controltower.cli.context import (
    DATE_FORMATS,
    RepositoryOption,
    configured,
    database,
    known_repository,
)
from controltower.domain.wording import counted
from controltower.errors import UsageError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from controltower.store.queries import RunSelection

app = typer.Typer(help="Export stored data (runs, jobs, metrics).", no_args_is_help=True)


class RunFormat(StrEnum):
    """File formats of ``export runs``."""

    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


class TableFormat(StrEnum):
    """File formats of the flat exports."""

    csv = "csv"
    parquet = "parquet"


Output = Annotated[Path | None, typer.Option("-o", "--output", help="File (default: stdout).")]
Since = Annotated[
    datetime | None,
    typer.Option(formats=DATE_FORMATS, metavar="DATE", help="Runs created from this day (UTC)."),
]
Until = Annotated[
    datetime | None,
    typer.Option(
        formats=DATE_FORMATS, metavar="DATE", help="Runs created before this day or time (UTC)."
    ),
]


def _selection(
    engine: Engine, repository: str | None, since: datetime | None, until: datetime | None
) -> RunSelection:
    """The runs the options take: a stored repository (else a usage error), a period."""
    from controltower.store.engine import reading
    from controltower.store.queries import RunSelection

    if since is not None and until is not None and since > until:
        raise UsageError(
            f"--since {since:%Y-%m-%d %H:%M:%S} is after --until {until:%Y-%m-%d %H:%M:%S}"
        )
    if repository is not None:
        with engine.connect() as conn:
            repository = known_repository(reading(conn), repository)
    return RunSelection(repository, _utc(since), _utc(until))


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _write_table(rows: Iterable[dict[str, Any]], fmt: TableFormat, output: Path | None) -> int:
    from controltower.telemetry import exports

    if fmt is TableFormat.parquet:
        if output is None:
            raise UsageError("Parquet is binary: name a file with -o")
        return exports.write_parquet(rows, output)
    with (
        output.open("w", newline="", encoding="utf-8") if output else nullcontext(sys.stdout) as out
    ):
        return exports.write_csv(rows, out)


@app.command("runs")
def export_runs(
    ctx: typer.Context,
    fmt: Annotated[RunFormat, typer.Option("--format", help="File format.")] = RunFormat.jsonl,
    output: Output = None,
    repository: RepositoryOption = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Stored runs: JSONL/CSV in the interchange format (re-importable), or flat Parquet.

    Every run, or those of one repository (--repo) created in a period (--since, --until).
    """
    from controltower.ingest import transfer

    with database(configured(ctx)) as engine:
        selection = _selection(engine, repository, since, until)
        records = transfer.export_runs(engine, selection=selection)
        if fmt is RunFormat.jsonl:
            with output.open("wb") if output else nullcontext(sys.stdout.buffer) as out:
                count = transfer.write_jsonl(records, out)
        elif fmt is RunFormat.csv:
            with (
                output.open("w", newline="", encoding="utf-8")
                if output
                else nullcontext(sys.stdout) as text_out
            ):
                count = transfer.write_csv(records, text_out)
        else:
            count = _write_table(transfer.flat_runs(records), TableFormat.parquet, output)
    typer.echo(f"exported {counted(count, 'run')}", err=True)


@app.command("jobs")
def export_jobs(
    ctx: typer.Context,
    fmt: Annotated[TableFormat, typer.Option("--format", help="File format.")] = TableFormat.csv,
    output: Output = None,
    repository: RepositoryOption = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Stored jobs, one row each, with their run's repository, workflow, id and attempt.

    Every job, or those of the runs of one repository (--repo) created in a period (--since,
    --until).
    """
    from controltower.store.engine import reading
    from controltower.telemetry import exports

    with database(configured(ctx)) as engine:
        selection = _selection(engine, repository, since, until)
        with engine.connect() as conn:
            count = _write_table(exports.job_rows(reading(conn), selection), fmt, output)
    typer.echo(f"exported {counted(count, 'job')}", err=True)


@app.command("metrics")
def export_metrics(
    ctx: typer.Context,
    fmt: Annotated[TableFormat, typer.Option("--format", help="File format.")] = TableFormat.csv,
    output: Output = None,
    group_by: Annotated[
        str, typer.Option(metavar="GROUP", help="repository, workflow, branch or job")
    ] = "repository",
    days: Annotated[int, typer.Option(min=1, help="Window length, ending at the newest run.")] = 30,
    repository: RepositoryOption = None,
) -> None:
    """The metrics of every group over a window, with the previous window and the change."""
    from controltower.store.engine import reading
    from controltower.telemetry import exports, service
    from controltower.telemetry.scope import GROUPS, Filters

    if group_by not in GROUPS:
        raise UsageError(f"--group-by {group_by}: use one of {', '.join(GROUPS)}")
    with database(configured(ctx)) as engine:
        with engine.connect() as conn:
            if repository is not None:
                repository = known_repository(reading(conn), repository)
            window = service.default_window(reading(conn), days)
            groups = service.metrics(
                reading(conn), window, Filters(repository=repository), group_by
            )
        count = _write_table(exports.metric_rows(groups), fmt, output)
    typer.echo(
        f"exported {counted(count, 'group')} ({window.start:%Y-%m-%d} to {window.end:%Y-%m-%d})",
        err=True,
    )
