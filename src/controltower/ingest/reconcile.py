"""Reconciliation: find what webhooks missed in a recent window, fetch it, measure completeness.

GitHub never redelivers a webhook that failed, so a missed ``workflow_run``
or ``workflow_job`` is lost unless someone asks the API. For each repository
(those configured in ``github.repositories`` and those webhooks delivered runs
for in the window), the runs created in ``[now - window_hours, now -
grace_minutes]`` are listed, compared with the store (``ingest.gaps``), and
whatever is missing, behind or without jobs is fetched through the backfill's
code and written through the same upserts. Each pass records a
``reconciliations`` row with the counts and the completeness it found
*before* fetching: the share of listed runs that had arrived by webhook.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine, func, insert, select

from controltower.config import Settings
from controltower.ingest.backfill import BackfillReport, RepositoryBackfill
from controltower.ingest.gaps import StoredAttempt, find_gaps
from controltower.integrations.github import GitHubClient
from controltower.store.engine import reading
from controltower.store.queries import repository_named, stored_repository
from controltower.store.tables import Job, Reconciliation, Repository, WorkflowRun, table_of

log = structlog.get_logger(__name__)
runs_t, jobs_t, repos_t = table_of(WorkflowRun), table_of(Job), table_of(Repository)
reconciliations_t = table_of(Reconciliation)


@dataclass(frozen=True, slots=True)
class Reconciled:
    """One repository's reconciliation pass."""

    repository: str
    listed: int
    arrived: int
    missing: int
    stale: int
    jobs_missing: int
    fetched: int
    requests: int
    completeness: float | None


def window(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """The inclusive range of creation times a pass looks at, in whole seconds."""
    now = now.replace(microsecond=0)
    low = now - timedelta(hours=settings.reconcile.window_hours)
    return low, now - timedelta(minutes=settings.reconcile.grace_minutes)


def repositories_to_reconcile(engine: Engine, settings: Settings, since: datetime) -> list[str]:
    """Configured repositories, and those webhooks delivered runs for since ``since``; one
    configured in another case than stored (``Pallets/Flask``) is the stored one."""
    with engine.connect() as raw:
        conn = reading(raw)
        seen = conn.execute(
            select(repos_t.c.full_name)
            .join(runs_t, runs_t.c.repository_id == repos_t.c.id)
            .where(runs_t.c.source == "webhook", runs_t.c.created_at >= since)
            .distinct()
        )
        names = {name for (name,) in seen}
        names.update(stored_repository(conn, name) or name for name in settings.github.repositories)
    return sorted(names)


def stored_attempts(
    engine: Engine, repository: str, run_ids: Sequence[str]
) -> dict[tuple[str, int], StoredAttempt]:
    """What the store holds for the given runs of ``repository``."""
    if not run_ids:
        return {}
    job_count = select(func.count()).where(jobs_t.c.run_pk == runs_t.c.id).scalar_subquery()
    query = (
        select(
            runs_t.c.run_id,
            runs_t.c.attempt,
            runs_t.c.status,
            runs_t.c.source,
            runs_t.c.updated_at,
            job_count,
        )
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .where(repository_named(repository), runs_t.c.run_id.in_(list(run_ids)))
    )
    with engine.connect() as conn:
        return {
            (run_id, attempt): StoredAttempt(status, source, updated, jobs)
            for run_id, attempt, status, source, updated, jobs in reading(conn).execute(query)
        }


async def reconcile_repository(
    engine: Engine, client: GitHubClient, repository: str, low: datetime, high: datetime
) -> Reconciled:
    """Compare, fetch what is missing, and record the pass for one repository."""
    started, before = datetime.now(UTC), client.requests
    backfill = RepositoryBackfill(engine, client, repository, BackfillReport(), _Quiet())
    await backfill.load_workflows()
    listed: list[Mapping[str, Any]] = []
    async for first, _high in backfill.windows(low, high):
        async for page in backfill.following(first):
            listed += page.data["workflow_runs"]
    gaps = find_gaps(listed, stored_attempts(engine, repository, [str(r["id"]) for r in listed]))
    fetched = await asyncio.gather(*(backfill.fetch_run(run) for run in gaps.to_fetch))
    result = Reconciled(
        repository,
        gaps.listed,
        gaps.arrived,
        len(gaps.missing),
        len(gaps.stale),
        len(gaps.jobs_missing),
        len(fetched),
        client.requests - before,
        gaps.completeness,
    )
    with engine.begin() as conn:
        backfill.store(conn, fetched)
        conn.execute(
            insert(reconciliations_t).values(
                window_start=low,
                window_end=high,
                started_at=started,
                finished_at=datetime.now(UTC),
                **vars_of(result),
            )
        )
    log.info("reconcile.done", **vars_of(result))
    return result


def vars_of(result: Reconciled) -> dict[str, Any]:
    """The result's fields by name."""
    return {name: getattr(result, name) for name in result.__slots__}


class _Quiet:
    def expect(self, runs: int) -> None:
        pass

    def advance(self, runs: int) -> None:
        pass


async def reconcile_async(
    engine: Engine,
    settings: Settings,
    *,
    repositories: Sequence[str] | None = None,
    now: datetime | None = None,
) -> list[Reconciled]:
    """Reconcile each repository (by default, ``repositories_to_reconcile``)."""
    low, high = window(settings, now or datetime.now(UTC))
    names = list(repositories or repositories_to_reconcile(engine, settings, low))
    results = []
    for name in names:
        async with GitHubClient(settings.github, scope=name) as client:
            results.append(await reconcile_repository(engine, client, name, low, high))
    return results


def reconcile(engine: Engine, settings: Settings, **options: Any) -> list[Reconciled]:
    """``reconcile_async`` for synchronous callers (the CLI, the scheduled task)."""
    return asyncio.run(reconcile_async(engine, settings, **options))
