"""Data completeness: how much of what GitHub ran arrived by webhook, and the problems it shows.

Reconciliation (``ingest.reconcile``) records, per repository and pass, how
many of the runs GitHub's API listed had arrived by webhook. The figure for a
repository is its latest pass; the overall figure weighs each repository by
the runs its latest pass listed. A figure below the configured threshold
(``reconcile.completeness_threshold``, 99 % by default) is an active problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, func, select

from controltower.store.tables import Reconciliation, table_of

reconciliations_t = table_of(Reconciliation)


@dataclass(frozen=True, slots=True)
class RepositoryCompleteness:
    """The latest reconciliation pass of one repository."""

    repository: str
    completeness: float | None
    listed: int
    arrived: int
    missing: int
    stale: int
    jobs_missing: int
    window_start: datetime
    window_end: datetime
    reconciled_at: datetime


@dataclass(frozen=True, slots=True)
class Completeness:
    """Completeness over every reconciled repository; None before the first pass."""

    completeness: float | None
    listed: int
    arrived: int
    threshold: float
    below_threshold: bool
    reconciled_at: datetime | None
    repositories: list[RepositoryCompleteness] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something an operator should look at, with what was measured and what was expected."""

    kind: str
    severity: str
    subject: str
    summary: str
    value: float | None = None
    threshold: float | None = None


def latest_passes(conn: Connection) -> list[RepositoryCompleteness]:
    """The latest reconciliation of each repository, by repository name."""
    latest = (
        select(reconciliations_t.c.repository, func.max(reconciliations_t.c.id).label("id"))
        .group_by(reconciliations_t.c.repository)
        .subquery()
    )
    r = reconciliations_t.c
    rows = conn.execute(
        select(reconciliations_t).join(latest, latest.c.id == r.id).order_by(r.repository)
    )
    return [
        RepositoryCompleteness(
            row.repository,
            row.completeness,
            row.listed,
            row.arrived,
            row.missing,
            row.stale,
            row.jobs_missing,
            row.window_start,
            row.window_end,
            row.finished_at,
        )
        for row in rows
    ]


def data_completeness(conn: Connection, threshold: float = 0.99) -> Completeness:
    """Share of listed runs that arrived by webhook, over every repository's latest pass."""
    passes = latest_passes(conn)
    listed = sum(p.listed for p in passes)
    arrived = sum(p.arrived for p in passes)
    value = arrived / listed if listed else None
    return Completeness(
        completeness=value,
        listed=listed,
        arrived=arrived,
        threshold=threshold,
        below_threshold=value is not None and value < threshold,
        reconciled_at=max((p.reconciled_at for p in passes), default=None),
        repositories=passes,
    )


def completeness_problems(report: Completeness) -> list[Problem]:
    """A problem for each repository, and overall, whose completeness is below the threshold."""
    problems = []
    if report.below_threshold and report.completeness is not None:
        problems.append(
            Problem(
                kind="data_completeness",
                severity="warning",
                subject="all repositories",
                summary=(
                    f"only {report.completeness:.1%} of runs arrived by webhook "
                    f"(threshold {report.threshold:.0%}); check webhook deliveries in GitHub"
                ),
                value=report.completeness,
                threshold=report.threshold,
            )
        )
    for repo in report.repositories:
        if repo.completeness is not None and repo.completeness < report.threshold:
            problems.append(
                Problem(
                    kind="data_completeness",
                    severity="warning",
                    subject=repo.repository,
                    summary=(
                        f"{repo.repository}: {repo.arrived} of {repo.listed} runs arrived by "
                        f"webhook ({repo.completeness:.1%}); {repo.missing} missing and "
                        f"{repo.stale} behind were fetched"
                    ),
                    value=repo.completeness,
                    threshold=report.threshold,
                )
            )
    return problems


def active_problems(conn: Connection, completeness_threshold: float = 0.99) -> list[Problem]:
    """Every active problem controltower knows of (today: data completeness)."""
    return completeness_problems(data_completeness(conn, completeness_threshold))
