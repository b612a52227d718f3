"""``controltower export``: runs (interchange format or flat), jobs and metrics, CSV or Parquet."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from controltower.cli.context import configured, database
from controltower.domain.wording import counted
from controltower.errors import ConfigurationError

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


def _write_table(rows: Iterable[dict[str, Any]], fmt: TableFormat, output: Path | None) -> int:
    from controltower.telemetry import exports

    if fmt is TableFormat.parquet:
        if output is None:
            raise ConfigurationError("Parquet is binary: name a file with -o")
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
) -> None:
    """Every stored run: JSONL/CSV in the interchange format (re-importable), or flat Parquet."""
    from controltower.ingest import transfer

    with database(configured(ctx)) as engine:
        records = transfer.export_runs(engine)
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
) -> None:
    """Every stored job, one row each, with its run's repository, workflow, id and attempt."""
    from controltower.store.engine import reading
    from controltower.telemetry import exports

    with database(configured(ctx)) as engine, engine.connect() as conn:
        count = _write_table(exports.job_rows(reading(conn)), fmt, output)
    typer.echo(f"exported {counted(count, 'job')}", err=True)


@app.command("metrics")
def export_metrics(
    ctx: typer.Context,
    fmt: Annotated[TableFormat, typer.Option("--format", help="File format.")] = TableFormat.csv,
    output: Output = None,
    group_by: Annotated[str, typer.Option(help="repository, workflow, branch or job")] = (
        "repository"
    ),
    days: Annotated[int, typer.Option(min=1, help="Window length, ending at the newest run.")] = 30,
    repository: Annotated[
        str | None, typer.Option("--repository", "--repo", help="Only this repository.")
    ] = None,
) -> None:
    """The metrics of every group over a window, with the previous window and the change."""
    from controltower.store.engine import reading
    from controltower.telemetry import drilldown, exports, service
    from controltower.telemetry.scope import GROUPS, Filters

    if group_by not in GROUPS:
        raise ConfigurationError(f"--group-by must be one of {', '.join(GROUPS)}")
    with database(configured(ctx)) as engine:
        with engine.connect() as conn:
            if repository is not None and not drilldown.workflow_ids(conn, repository):
                raise ConfigurationError(
                    f"no repository {repository} is stored (names as GitHub spells them)"
                )
            window = service.default_window(reading(conn), days)
            groups = service.metrics(
                reading(conn), window, Filters(repository=repository), group_by
            )
        count = _write_table(exports.metric_rows(groups), fmt, output)
    typer.echo(
        f"exported {counted(count, 'group')} ({window.start:%Y-%m-%d} to {window.end:%Y-%m-%d})",
        err=True,
    )
