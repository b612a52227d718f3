"""Logs of failed jobs: fetched from GitHub, stored gzip-compressed with a size cap, read back.

GitHub answers a job's log request with a 302 to a URL that works for about
a minute, so a log is downloaded when it is asked for, never from a stored
URL. Only jobs whose conclusion is in ``job_logs.conclusions`` (failure,
timed_out) are fetched: they are what a person reads and what failure
classification will learn from. A log longer than ``job_logs.max_bytes`` keeps
its end, where the error is, behind a line saying how much was cut. A log
GitHub no longer has (expired, deleted: 404/410) is recorded with the reason,
so it is not asked for again.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import Connection, Engine, insert, select

from controltower.config import JobLogSettings, Settings
from controltower.errors import GitHubError, GitHubNotFound
from controltower.integrations.github import GitHubClient
from controltower.store.engine import reading
from controltower.store.queries import repositories_named
from controltower.store.tables import Job, JobLog, Repository, WorkflowRun, table_of

log = structlog.get_logger(__name__)
jobs_t, logs_t = table_of(Job), table_of(JobLog)
runs_t, repos_t = table_of(WorkflowRun), table_of(Repository)


@dataclass(frozen=True, slots=True)
class Wanted:
    """A failed job whose log is not stored yet."""

    job_pk: int
    repository: str
    job_id: str


@dataclass
class LogReport:
    """What one pass of fetching logs did."""

    fetched: int = 0
    truncated: int = 0
    unavailable: int = 0
    bytes_read: int = 0
    bytes_stored: int = 0


@dataclass(frozen=True, slots=True)
class StoredLog:
    """A job's log as stored: its text, and whether only its end was kept."""

    job_pk: int
    text: str
    size: int
    truncated: bool
    fetched_at: datetime
    error: str | None


def wanted(
    engine: Engine, settings: JobLogSettings, repositories: Sequence[str] | None = None
) -> list[Wanted]:
    """Failed jobs with a GitHub id and no stored log, newest first, at most ``batch``."""
    query = (
        select(jobs_t.c.id, repos_t.c.full_name, jobs_t.c.job_id)
        .join(runs_t, runs_t.c.id == jobs_t.c.run_pk)
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .outerjoin(logs_t, logs_t.c.job_pk == jobs_t.c.id)
        .where(
            jobs_t.c.conclusion.in_(settings.conclusions),
            jobs_t.c.job_id.is_not(None),
            logs_t.c.id.is_(None),
        )
        .order_by(jobs_t.c.id.desc())
        .limit(settings.batch)
    )
    if repositories:
        query = query.where(repositories_named(repositories))
    with engine.connect() as conn:
        return [Wanted(*row) for row in reading(conn).execute(query)]


def pack(body: bytes, size: int) -> tuple[bytes, bool]:
    """The gzip of ``body`` (the end of a log of ``size`` bytes), marked when cut."""
    truncated = size > len(body)
    if truncated:
        cut = size - len(body)
        body = f"[controltower: the first {cut} bytes of this log were not kept]\n".encode() + body
    return gzip.compress(body, compresslevel=6), truncated


async def _fetch_one(
    client: GitHubClient, engine: Engine, job: Wanted, cap: int, report: LogReport
) -> None:
    path = f"repos/{job.repository}/actions/jobs/{job.job_id}/logs"
    error = None
    try:
        body, size = await client.download(path, cap, tail=True)
    except GitHubNotFound as exc:
        body, size, error = b"", 0, str(exc)
    except GitHubError as exc:
        if exc.status != 410:
            raise
        body, size, error = b"", 0, str(exc)
    content, truncated = pack(body, size)
    with engine.begin() as conn:
        conn.execute(
            insert(logs_t).values(
                job_pk=job.job_pk,
                fetched_at=datetime.now(UTC),
                size=size,
                truncated=truncated,
                compression="gzip",
                content=content,
                error=error,
            )
        )
    report.fetched += error is None
    report.unavailable += error is not None
    report.truncated += truncated
    report.bytes_read += size
    report.bytes_stored += len(content)


async def fetch_logs_async(
    engine: Engine, settings: Settings, *, repositories: Sequence[str] | None = None
) -> LogReport:
    """Fetch and store the logs of failed jobs that have none yet (one batch)."""
    report = LogReport()
    jobs = wanted(engine, settings.job_logs, repositories)
    by_repo: dict[str, list[Wanted]] = {}
    for job in jobs:
        by_repo.setdefault(job.repository, []).append(job)
    for repository, group in by_repo.items():
        async with GitHubClient(settings.github, scope=repository) as client:
            await asyncio.gather(
                *(
                    _fetch_one(client, engine, job, settings.job_logs.max_bytes, report)
                    for job in group
                )
            )
    log.info("job_logs.done", **vars(report))
    return report


def fetch_logs(engine: Engine, settings: Settings, **options: Sequence[str] | None) -> LogReport:
    """``fetch_logs_async`` for synchronous callers (the CLI, the scheduled task)."""
    return asyncio.run(fetch_logs_async(engine, settings, **options))


def job_log(conn: Connection, job_pk: int) -> StoredLog | None:
    """The stored log of job ``job_pk`` (the ``jobs.id``), decompressed; None when not stored."""
    row = conn.execute(select(logs_t).where(logs_t.c.job_pk == job_pk)).one_or_none()
    if row is None:
        return None
    text = gzip.decompress(row.content).decode("utf-8", errors="replace")
    return StoredLog(job_pk, text, row.size, row.truncated, row.fetched_at, row.error)
