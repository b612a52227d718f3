"""``controltower import``: run history in the interchange format."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from controltower.cli.context import configured, database, output_console, print_json

if TYPE_CHECKING:
    from controltower.ingest.transfer import ImportReport


def import_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE", help="JSONL or CSV files, gzipped or not.")
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import run history files (shared/spec/run-history-format.md)."""
    with database(configured(ctx), migrate=True) as engine:
        report = _import_with_progress(engine, files)
    if json_output:
        print_json(report.as_dict())
    else:
        _print_summary(report)
    if report.rejected:
        raise typer.Exit(1)


def _import_with_progress(engine: object, files: list[Path]) -> ImportReport:
    from controltower.ingest.transfer import import_files

    console = output_console(stderr=True)
    show = console.is_terminal
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
        console=console,
        disable=not show,
    )
    with progress if show else nullcontext(progress):
        task = progress.add_task("import", total=None)
        return import_files(engine, files, progress=lambda n: progress.advance(task, n))  # type: ignore[arg-type]


def _print_summary(report: ImportReport) -> None:
    err = output_console(stderr=True)
    for rejection in report.rejections:
        err.print(
            f"[red]rejected[/] {rejection['file']}:{rejection['line']}: {rejection['reason']}"
        )
    if report.rejected > len(report.rejections):
        err.print(f"... and {report.rejected - len(report.rejections)} more rejected")
    for warning in report.warning_samples[:10]:
        err.print(f"[yellow]warning[/] {warning['file']}:{warning['line']}: {warning['warning']}")
    err.print(
        f"{report.files} file(s), {report.records} records: {report.stored} stored, "
        f"{report.unchanged} unchanged, {report.rejected} rejected, {report.warnings} warnings"
    )
