"""Backfill: workflows, runs with every attempt, jobs and steps, read from GitHub's REST API.

For each repository the range ``[since, until]`` is walked oldest window
first. A window is a ``created=`` range whose listing GitHub returns whole:
the run listing stops after 1,000 results (``github.listing_cap``) however
many match, so a range
whose ``total_count`` is above that is split in two until every part fits.
Each page of up to ``per_page`` runs is written in one transaction through
the same normalization and conditional upserts as webhook deliveries (so a
run seen both ways converges to one row), and the window's last page moves
the checkpoint in the same transaction: an interrupted backfill resumes after
the last complete window and repeats at most one window, idempotently.

For a run whose latest attempt is *n*, attempts 1 to *n*-1 are fetched one by
one, and the jobs (with steps) of every attempt. Requests run concurrently up
to ``github.concurrency``, through ``GitHubClient``, which obeys rate limits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import Connection, Engine

from controltower.config import GitHubSettings
from controltower.domain import JobDeliveryFact, RunFact
from controltower.ingest import checkpoints
from controltower.ingest.normalize import job_fact, run_fact
from controltower.integrations.github import ApiResponse, GitHubClient
from controltower.store.engine import refresh_statistics
from controltower.store.writer import FactWriter

log = structlog.get_logger(__name__)
Fetched = tuple[list[RunFact], list[JobDeliveryFact]]
SECOND = timedelta(seconds=1)


class Progress(Protocol):
    """Where a backfill reports how many runs it expects and has stored."""

    def expect(self, runs: int) -> None:
        """``runs`` more runs are to be fetched."""

    def advance(self, runs: int) -> None:
        """``runs`` more runs were stored."""


class _Silent:
    def expect(self, runs: int) -> None:
        pass

    def advance(self, runs: int) -> None:
        pass


@dataclass
class BackfillReport:
    """What a backfill fetched and stored."""

    repositories: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    workflows: int = 0
    runs: int = 0
    attempts: int = 0
    jobs: int = 0
    windows: int = 0
    splits: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return dict(vars(self))


def created_range(low: datetime, high: datetime) -> str:
    """GitHub's ``created=`` qualifier for the inclusive range ``[low, high]``."""
    return f"{low:%Y-%m-%dT%H:%M:%SZ}..{high:%Y-%m-%dT%H:%M:%SZ}"


def split(low: datetime, high: datetime) -> tuple[tuple[datetime, datetime], ...]:
    """Two halves of an inclusive range in whole seconds; one part when it cannot be split."""
    if high - low < SECOND:
        return ((low, high),)
    mid = low + timedelta(seconds=(high - low).total_seconds() // 2)
    return (low, mid), (mid + SECOND, high)


class RepositoryBackfill:
    """The backfill of one repository, through one client."""

    def __init__(
        self,
        engine: Engine,
        client: GitHubClient,
        repository: str,
        report: BackfillReport,
        progress: Progress,
    ) -> None:
        self.engine = engine
        self.client = client
        self.repository = repository
        self.report = report
        self.progress = progress
        self.cap = client.settings.listing_cap
        self.base = f"repos/{repository}/actions"
        self.workflows: dict[int, dict[str, Any]] = {}

    async def run(self, since: datetime, until: datetime, *, restart: bool = False) -> None:
        """Backfill ``[since, until]``, resuming from the checkpoint unless ``restart``."""
        plan = checkpoints.plan(self.engine, self.repository, since, until, restart=restart)
        if plan.resumed:
            self.report.resumed.append(self.repository)
        log.info("backfill.start", repository=self.repository, start=plan.start, until=plan.until)
        await self.load_workflows()
        if plan.start <= plan.until:
            async for first, high in self.windows(plan.start, plan.until, top=True):
                await self._window(first, high)
        checkpoints.finish(self.engine, self.repository)
        self.report.repositories.append(self.repository)

    async def load_workflows(self) -> None:
        """List the repository's workflows and store their names, paths and ids."""
        async for page in self.client.pages(f"{self.base}/workflows"):
            for workflow in page.data["workflows"]:
                self.workflows[int(workflow["id"])] = workflow
        with self.engine.begin() as conn:
            writer = FactWriter(conn)
            repo_id = writer.repository_id(self.repository)
            for workflow in self.workflows.values():
                writer.workflow_id(repo_id, workflow["name"], workflow.get("path"), workflow["id"])
        self.report.workflows += len(self.workflows)

    async def windows(
        self, low: datetime, high: datetime, *, top: bool = False
    ) -> AsyncIterator[tuple[ApiResponse, datetime]]:
        """The first listing page of each window of ``[low, high]``, oldest first, and its end.

        A range whose ``total_count`` is above the listing cap is split in two.
        """
        first = await self.client.get(
            f"{self.base}/runs",
            {"created": created_range(low, high), "per_page": self.client.settings.per_page},
        )
        total = int(first.data["total_count"])
        if top:
            self.progress.expect(total)
        parts = split(low, high)
        if total > self.cap and len(parts) == 2:
            self.report.splits += 1
            for part_low, part_high in parts:
                async for window in self.windows(part_low, part_high):
                    yield window
            return
        yield first, high

    async def following(self, page: ApiResponse) -> AsyncIterator[ApiResponse]:
        """``page`` and every page after it (``Link: rel="next"``)."""
        yield page
        while page.next_url is not None:
            page = await self.client.get(page.next_url)
            yield page

    async def _window(self, first: ApiResponse, high: datetime) -> None:
        """Store every page of one window, then move the checkpoint past it.

        The next listing page is requested while the current page's runs are
        fetched, so the listing never waits for the slowest run of a page.
        """
        self.report.windows += 1
        stored = 0
        page: ApiResponse | None = first
        while page is not None:
            upcoming = (
                asyncio.ensure_future(self.client.get(page.next_url)) if page.next_url else None
            )
            listed = page.data["workflow_runs"]
            try:
                fetched = await asyncio.gather(*(self.fetch_run(run) for run in listed))
            except BaseException:
                if upcoming is not None:
                    upcoming.cancel()
                raise
            with self.engine.begin() as conn:
                self.store(conn, fetched)
                stored += len(listed)
                if upcoming is None:
                    checkpoints.advance(conn, self.repository, high, stored)
            self.report.runs += len(listed)
            self.progress.advance(len(listed))
            page = await upcoming if upcoming is not None else None

    def store(self, conn: Connection, fetched: Sequence[Fetched]) -> None:
        """Write fetched runs and jobs in the caller's transaction."""
        writer = FactWriter(conn)
        writer.upsert_runs([run for runs, _ in fetched for run in runs])
        for _, jobs in fetched:
            for job in jobs:
                writer.upsert_job(job)
        self.report.attempts += sum(len(runs) for runs, _ in fetched)
        self.report.jobs += sum(len(jobs) for _, jobs in fetched)

    async def fetch_run(self, latest: Mapping[str, Any]) -> Fetched:
        """Every attempt of one run (given as listed: its latest), and every attempt's jobs."""
        run_id, count = latest["id"], int(latest.get("run_attempt") or 1)
        earlier = await asyncio.gather(
            *(self.client.get(f"{self.base}/runs/{run_id}/attempts/{n}") for n in range(1, count))
        )
        attempts = [response.data for response in earlier] + [latest]
        job_lists = await asyncio.gather(*(self._jobs(run_id, n) for n in range(1, count + 1)))
        runs = [
            run_fact(self.repository, attempt, self.workflows.get(attempt.get("workflow_id") or 0))
            for attempt in attempts
        ]
        jobs = [
            job_fact(self.repository, {**job, "run_attempt": job.get("run_attempt") or n})
            for n, listed in enumerate(job_lists, start=1)
            for job in listed
        ]
        return runs, jobs

    async def _jobs(self, run_id: int, attempt: int) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = []
        async for page in self.client.pages(f"{self.base}/runs/{run_id}/attempts/{attempt}/jobs"):
            jobs += page.data["jobs"]
        return jobs


async def backfill_async(
    engine: Engine,
    settings: GitHubSettings,
    *,
    repositories: Sequence[str] = (),
    org: str | None = None,
    since: datetime,
    until: datetime,
    restart: bool = False,
    progress: Progress | None = None,
) -> BackfillReport:
    """Backfill the given repositories and every repository of ``org``."""
    report = BackfillReport()
    started = time.perf_counter()
    since, until = since.replace(microsecond=0), until.replace(microsecond=0)
    scopes: list[tuple[str, list[str]]] = [(name, [name]) for name in repositories]
    if org is not None:
        scopes.append((org, []))
    for scope, given in scopes:
        async with GitHubClient(settings, scope=scope) as client:
            names = given or await organization_repositories(client, scope)
            for name in names:
                await RepositoryBackfill(engine, client, name, report, progress or _Silent()).run(
                    since, until, restart=restart
                )
            report.requests += client.requests
            report.retries += client.retries
    if report.runs:
        refresh_statistics(engine)
    report.seconds = round(time.perf_counter() - started, 3)
    log.info("backfill.done", **report.as_dict())
    return report


async def organization_repositories(client: GitHubClient, org: str) -> list[str]:
    """The full names of every repository of ``org`` that the credentials can see."""
    names: list[str] = []
    async for page in client.pages(f"orgs/{org}/repos", {"type": "all"}):
        names += [str(repo["full_name"]) for repo in page.data]
    return names


def backfill(engine: Engine, settings: GitHubSettings, **options: Any) -> BackfillReport:
    """``backfill_async`` for synchronous callers (the CLI, the worker)."""
    return asyncio.run(backfill_async(engine, settings, **options))
