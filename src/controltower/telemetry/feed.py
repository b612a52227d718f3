"""What happened lately: the event feed of the overview and ``/api/v1/events``, newest
first (runs finished, deployments decided, pushes), within the dashboard's filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, true

from controltower.domain import is_failed
from controltower.domain.status import run_result
from controltower.store import queries
from controltower.telemetry.scope import (
    Filters,
    deps_t,
    pushes_t,
    repos_t,
    runs_t,
    statuses_t,
    workflows_t,
)


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the feed."""

    at: datetime
    kind: str
    repository: str
    text: str
    outcome: str | None = None
    run_id: str | None = None


def feed(conn: Connection, filters: Filters, limit: int = 25) -> list[Event]:
    """The latest runs finished, deployments decided and pushes, newest first."""
    events: list[Event] = []
    finished = func.coalesce(runs_t.c.completed_at, runs_t.c.created_at)
    runs = conn.execute(
        select(
            repos_t.c.full_name,
            workflows_t.c.name.label("workflow"),
            runs_t.c.run_id,
            runs_t.c.run_number,
            runs_t.c.attempt,
            runs_t.c.branch,
            runs_t.c.status,
            runs_t.c.conclusion,
            func.coalesce(runs_t.c.started_at, runs_t.c.created_at).label("since"),
            finished.label("at"),
        )
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .join(workflows_t, workflows_t.c.id == runs_t.c.workflow_id)
        .where(runs_t.c.created_at.is_not(None), *_run_filters(filters))
        .order_by(runs_t.c.created_at.desc())
        .limit(limit)
    )
    now = datetime.now(UTC)
    for r in runs:
        if r.at is None:
            continue
        number = f"#{r.run_number}" if r.run_number else f"run {r.run_id}"
        again = f" (attempt {r.attempt})" if r.attempt > 1 else ""
        outcome = run_result(r.status, r.conclusion, r.since, now)
        events.append(
            Event(
                r.at,
                "run",
                r.full_name,
                f"{r.workflow} {number}{again} on {r.branch or '?'}: {outcome}",
                outcome,
                r.run_id,
            )
        )
    statuses = conn.execute(
        select(
            repos_t.c.full_name,
            deps_t.c.environment,
            deps_t.c.ref,
            statuses_t.c.state,
            statuses_t.c.created_at,
        )
        .join(deps_t, deps_t.c.id == statuses_t.c.deployment_pk)
        .join(repos_t, repos_t.c.id == deps_t.c.repository_id)
        .where(statuses_t.c.created_at.is_not(None))
        .where(queries.repository_named(filters.repository) if filters.repository else true())
        .order_by(statuses_t.c.created_at.desc())
        .limit(limit)
    )
    for s in statuses:
        events.append(
            Event(
                s.created_at,
                "deployment",
                s.full_name,
                f"deployment of {s.ref or '?'} to {s.environment or '?'}: {s.state}",
                "failure" if is_failed(s.state) or s.state == "error" else s.state,
            )
        )
    pushes = conn.execute(
        select(
            repos_t.c.full_name,
            pushes_t.c.ref,
            pushes_t.c.pusher,
            pushes_t.c.distinct_commits,
            pushes_t.c.forced,
            pushes_t.c.head_commit_at,
        )
        .join(repos_t, repos_t.c.id == pushes_t.c.repository_id)
        .where(pushes_t.c.head_commit_at.is_not(None))
        .where(queries.repository_named(filters.repository) if filters.repository else true())
        .order_by(pushes_t.c.head_commit_at.desc())
        .limit(limit)
    )
    for p in pushes:
        branch = p.ref.removeprefix("refs/heads/")
        forced = " (forced)" if p.forced else ""
        events.append(
            Event(
                p.head_commit_at,
                "push",
                p.full_name,
                f"{p.pusher or 'someone'} pushed {p.distinct_commits} commit(s) "
                f"to {branch}{forced}",
            )
        )
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit]


def _run_filters(filters: Filters) -> list[Any]:
    conditions: list[Any] = []
    if filters.repository:
        conditions.append(queries.repository_named(filters.repository))
    if filters.branch:
        conditions.append(runs_t.c.branch == filters.branch)
    if filters.event:
        conditions.append(runs_t.c.event == filters.event)
    return conditions
