"""Deployments for the DORA keys: GitHub's deployment statuses, and workflows configured as such.

``telemetry.dora`` says how a deployment, a failed deployment and a
restoration are identified; this module finds them in the store.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from fnmatch import fnmatch
from typing import Any

from sqlalchemy import Connection, func, or_, select, true

from controltower.domain import is_failed, is_passed
from controltower.store.queries import repository_named
from controltower.telemetry.dora import DeploymentEvent, Dora, dora, window_days
from controltower.telemetry.metrics import Window
from controltower.telemetry.scope import (
    FINAL_STATES,
    Filters,
    deps_t,
    pushes_t,
    repos_t,
    runs_query,
    runs_t,
    statuses_t,
    workflows_t,
)


def deployment_events(
    conn: Connection, window: Window, filters: Filters, settings: Any
) -> list[DeploymentEvent]:
    """Deployments that finished in the window: GitHub's, then workflows configured as such."""
    return _github_deployments(conn, window, filters, settings) + _workflow_deployments(
        conn, window, filters, settings
    )


def _github_deployments(
    conn: Connection, window: Window, filters: Filters, settings: Any
) -> list[DeploymentEvent]:
    production = {name.lower() for name in settings.production_environments}
    rows = conn.execute(
        select(
            deps_t.c.id,
            repos_t.c.full_name,
            deps_t.c.environment,
            deps_t.c.production,
            deps_t.c.sha,
            deps_t.c.repository_id,
            statuses_t.c.state,
            statuses_t.c.created_at,
        )
        .join(repos_t, repos_t.c.id == deps_t.c.repository_id)
        .join(statuses_t, statuses_t.c.deployment_pk == deps_t.c.id)
        .where(
            statuses_t.c.state.in_(FINAL_STATES),
            statuses_t.c.created_at >= window.start,
            statuses_t.c.created_at < window.end,
        )
        .where(repository_named(filters.repository) if filters.repository else true())
        .order_by(statuses_t.c.created_at)
    ).all()
    final = {row.id: row for row in rows}  # the latest final state of each deployment
    events = []
    for row in final.values():
        environment = row.environment or "production"
        if not (row.production or environment.lower() in production):
            continue
        commit_at = conn.execute(
            select(
                func.min(func.coalesce(pushes_t.c.first_commit_at, pushes_t.c.head_commit_at))
            ).where(pushes_t.c.repository_id == row.repository_id, pushes_t.c.after == row.sha)
        ).scalar_one_or_none()
        events.append(
            DeploymentEvent(
                row.full_name, environment, row.created_at, row.state == "success", commit_at
            )
        )
    return events


def _workflow_deployments(
    conn: Connection, window: Window, filters: Filters, settings: Any
) -> list[DeploymentEvent]:
    patterns = [p.lower() for p in settings.deployment_workflows]
    if not patterns:
        return []
    rows = conn.execute(
        runs_query(
            window,
            filters,
            runs_t.c.repository_id,
            repos_t.c.full_name,
            workflows_t.c.name.label("workflow"),
            runs_t.c.run_id,
            runs_t.c.attempt,
            runs_t.c.conclusion,
            runs_t.c.created_at,
            runs_t.c.completed_at,
            runs_t.c.duration_s,
            runs_t.c.head_sha,
        )
        .where(runs_t.c.branch.in_(settings.deployment_branches), runs_t.c.conclusion.is_not(None))
        .where(_names_like(workflows_t.c.name, patterns))
    ).all()
    latest: dict[tuple[str, str], Any] = {}
    for row in rows:
        if not any(fnmatch(row.workflow.lower(), p) for p in patterns):
            continue
        key = (row.full_name, row.run_id)
        if key not in latest or row.attempt > latest[key].attempt:
            latest[key] = row
    first_seen = _first_run_on_commits(conn, list(latest.values()))
    events = []
    for row in latest.values():
        if not (is_passed(row.conclusion) or is_failed(row.conclusion)):
            continue
        finished = row.completed_at or (
            row.created_at + timedelta(seconds=row.duration_s or 0) if row.created_at else None
        )
        if finished is None:
            continue
        events.append(
            DeploymentEvent(
                row.full_name,
                f"workflow: {row.workflow}",
                finished,
                is_passed(row.conclusion),
                first_seen.get((row.repository_id, row.head_sha)),
            )
        )
    return events


def _names_like(column: Any, patterns: list[str]) -> Any:
    """SQL narrowing a name column to the glob ``patterns`` (lower case), where LIKE can say it.

    ``*`` and ``?`` become ``%`` and ``_``; a pattern with a character class
    (``[...]``) cannot be said in LIKE, and then nothing is narrowed here (the
    patterns are still applied to every row afterwards).
    """
    if any("[" in p for p in patterns):
        return true()
    likes = []
    for pattern in patterns:
        escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        likes.append(
            func.lower(column).like(escaped.replace("*", "%").replace("?", "_"), escape="\\")
        )
    return or_(*likes)


def _first_run_on_commits(conn: Connection, rows: list[Any]) -> dict[tuple[int, str], datetime]:
    """When CI first ran on each (repository, commit): the proxy for when the change began."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        if row.head_sha:
            wanted[row.repository_id].add(row.head_sha)
    found: dict[tuple[int, str], datetime] = {}
    for repo_id, shas in wanted.items():
        for sha, first in conn.execute(
            select(runs_t.c.head_sha, func.min(runs_t.c.created_at))
            .where(runs_t.c.repository_id == repo_id, runs_t.c.head_sha.in_(sorted(shas)))
            .group_by(runs_t.c.head_sha)
        ):
            if first is not None:
                found[(repo_id, sha)] = first
    return found


def dora_report(conn: Connection, window: Window, filters: Filters, settings: Any) -> Dora:
    """The DORA four keys for the window."""
    return dora_from(deployment_events(conn, window, filters, settings), window)


def dora_from(events: list[DeploymentEvent], window: Window) -> Dora:
    """The DORA four keys of deployment events already found for ``window``."""
    return dora(events, window_days(window.start, window.end))
