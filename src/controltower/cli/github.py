"""``controltower backfill``: history from GitHub's REST API, resumable, with a progress bar."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from controltower.cli.context import (
    DATE_FORMATS,
    as_stored,
    configured,
    database,
    output_console,
    print_json,
)
from controltower.errors import UsageError

if TYPE_CHECKING:
    from controltower.ingest.backfill import BackfillReport


class _Bar:
    """Adapts a Rich progress bar to ``ingest.backfill.Progress``."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("backfill", total=0)

    def expect(self, runs: int) -> None:
        total = self.progress.tasks[0].total or 0
        self.progress.update(self.task, total=total + runs)

    def advance(self, runs: int) -> None:
        self.progress.advance(self.task, runs)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def backfill_command(
    ctx: typer.Context,
    repo: Annotated[
        list[str] | None,
        typer.Option(
            "--repo", "--repository", metavar="OWNER/NAME", help="A repository; repeat for several."
        ),
    ] = None,
    org: Annotated[
        str | None, typer.Option(metavar="ORG", help="Every repository of this organization.")
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            formats=DATE_FORMATS,
            metavar="DATE",
            help="Runs created from this day (UTC); default: 30 days ago.",
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(
            formats=DATE_FORMATS, metavar="DATE", help="Runs created until (UTC); default: now."
        ),
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore the checkpoint and start over.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Fetch workflows, runs (every attempt), jobs and steps from GitHub's API."""
    from controltower.ingest.backfill import backfill

    settings = configured(ctx)
    for name in repo or []:
        if name.count("/") != 1:
            raise UsageError(f"--repo {name!r}: expected OWNER/NAME")
    if not repo and not org:
        raise UsageError("name a repository (--repo OWNER/NAME) or --org ORG")
    now = datetime.now(UTC)
    start = _utc(since) if since else now - timedelta(days=30)
    end = min(_utc(until), now) if until else now
    console = output_console(stderr=True)
    bar = Progress(
        TextColumn("backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with (
        database(settings, migrate=True) as engine,
        bar if console.is_terminal else nullcontext(bar),
    ):
        report = backfill(
            engine,
            settings.github,
            repositories=as_stored(engine, repo),
            org=org,
            since=start,
            until=end,
            restart=restart,
            progress=_Bar(bar),
        )
    if json_output:
        print_json(report.as_dict())
    else:
        _summary(console, report)


def _summary(console: Console, report: BackfillReport) -> None:
    resumed = f", resumed {', '.join(report.resumed)}" if report.resumed else ""
    console.print(
        f"{len(report.repositories)} repositor{'y' if len(report.repositories) == 1 else 'ies'}: "
        f"{report.runs} runs, {report.attempts} attempts, {report.jobs} jobs stored in "
        f"{report.seconds:.1f} s with {report.requests} API requests "
        f"({report.retries} retried){resumed}"
    )


def reconcile_command(
    ctx: typer.Context,
    repo: Annotated[
        list[str] | None,
        typer.Option(
            "--repo",
            "--repository",
            metavar="OWNER/NAME",
            help="A repository; repeat for several. Default: configured and recently delivered.",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Compare webhook deliveries with GitHub's API for the recent window; fetch what is missing."""
    from controltower.ingest.reconcile import reconcile, vars_of

    settings = configured(ctx)
    with database(settings, migrate=True) as engine:
        results = reconcile(engine, settings, repositories=as_stored(engine, repo) or None)
    if json_output:
        print_json([vars_of(r) for r in results])
        return
    console = output_console(stderr=True)
    if not results:
        console.print("nothing to reconcile: no repository configured or recently delivered")
    for r in results:
        share = "n/a" if r.completeness is None else f"{r.completeness:.1%}"
        console.print(
            f"{r.repository}: {r.listed} runs listed, {r.arrived} had arrived by webhook "
            f"({share}); fetched {r.fetched} ({r.missing} missing, {r.stale} behind, "
            f"{r.jobs_missing} without jobs) with {r.requests} API requests"
        )


def fetch_logs_command(
    ctx: typer.Context,
    repo: Annotated[
        list[str] | None,
        typer.Option(
            "--repo",
            "--repository",
            metavar="OWNER/NAME",
            help="A repository; repeat for several. Default: every repository.",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Download and store (compressed) the logs of failed jobs that have none yet."""
    from controltower.ingest.joblogs import fetch_logs

    settings = configured(ctx)
    with database(settings, migrate=True) as engine:
        report = fetch_logs(engine, settings, repositories=as_stored(engine, repo) or None)
    if json_output:
        print_json(vars(report))
        return
    output_console(stderr=True).print(
        f"{report.fetched} logs stored ({report.truncated} cut to their end), "
        f"{report.unavailable} no longer on GitHub; {report.bytes_read} bytes read, "
        f"{report.bytes_stored} stored"
    )
