"""Series from the store: per workflow (and job), the metrics whose changes matter.

- ``duration``: seconds of each successful run, in order of creation, less the
  time it stood still between jobs for longer than ``WAIT_BETWEEN_JOBS_S``
  (with no job running: a deployment waiting for a reviewer's approval, a
  manual gate), which measures the people, not the pipeline;
- ``queue``: seconds each run waited for its first job;
- ``failures``: each completed run's outcome, 1 failed and 0 passed (bursts
  are judged over a moving window of them);
- ``cost``: USD per day of each repository and workflow, and
- ``runs``: runs per day of each workflow, both daily or weekly totals
  (``totals``);
- ``job_duration``: seconds of each successful job, per workflow and job name.

Each point of a run's series carries, as its context, what the run says
about a cause: its commit, its runner type, and the workflow files the push
of that commit changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from controltower.anomaly.model import Metric, Point, Series
from controltower.anomaly.totals import (
    Rate,
    cost_series,
    daily_workflow_changes,
    last_complete_day,
    runs_of,
    runs_per_day,
)
from controltower.anomaly.tuning import WEEKLY_WINDOW
from controltower.domain import FAILED_CONCLUSIONS, WAIT_BETWEEN_JOBS_S, waited_between_jobs
from controltower.store.tables import Job, Push, Repository, Workflow, WorkflowRun, table_of

runs_t, jobs_t = table_of(WorkflowRun), table_of(Job)
repos_t, workflows_t = table_of(Repository), table_of(Workflow)
pushes_t = table_of(Push)
# per repository id and commit pushed: the workflow files that push changed, comma-joined
WorkflowChanges = dict[tuple[int, str], str]
METRICS: tuple[Metric, ...] = ("duration", "queue", "failures", "cost", "job_duration", "runs")


def load_series(
    conn: Connection,
    metrics: Iterable[Metric] = METRICS,
    *,
    rate: Rate,
    min_points: int = 60,
    since: datetime | None = None,
    wait_between_jobs_s: float | None = WAIT_BETWEEN_JOBS_S,
) -> list[Series]:
    """Every series of ``metrics`` with at least ``min_points`` points, by name.

    ``wait_between_jobs_s``: a successful run's duration is taken less each stretch
    longer than this in which none of its jobs ran (``None``: as stored).

    Weekly totals need no more than two of their shorter windows
    (``tuning.WEEKLY_WINDOW``): a year of weeks is enough to judge.
    """
    found: list[Series] = []
    metrics = tuple(metrics)
    per_run = {"duration", "queue", "failures", "job_duration"}
    changed = workflow_changes(conn) if per_run.intersection(metrics) else {}
    through = last_complete_day(conn)
    pushed = daily_workflow_changes(conn) if {"cost", "runs"}.intersection(metrics) else {}
    for metric in metrics:
        if metric == "cost":
            found += cost_series(conn, rate, since, through, pushed)
        elif metric == "runs":
            found += runs_per_day(conn, since, through, pushed)
        elif metric == "job_duration":
            found += job_durations(conn, since, changed)
        else:
            found += run_series(conn, metric, since, changed, wait_between_jobs_s)
    weekly_points = min(min_points, 2 * WEEKLY_WINDOW)
    return sorted(
        (
            s
            for s in found
            if len(s.points) >= (weekly_points if s.days_per_point == 7 else min_points)
        ),
        key=lambda s: (s.metric, s.name),
    )


def run_series(
    conn: Connection,
    metric: Metric,
    since: datetime | None,
    changed: WorkflowChanges,
    wait_between_jobs_s: float | None = WAIT_BETWEEN_JOBS_S,
) -> list[Series]:
    """Per workflow: successful durations, queue times or outcomes, one point per run.

    ``changed``: ``workflow_changes``, to name the workflow files a run's push changed;
    ``wait_between_jobs_s``: as in ``load_series``.
    """
    waited = (
        waits_between_jobs(conn, since, wait_between_jobs_s)
        if metric == "duration" and wait_between_jobs_s is not None
        else {}
    )
    query = runs_of(
        since,
        runs_t.c.id,
        runs_t.c.created_at,
        runs_t.c.conclusion,
        runs_t.c.duration_s,
        runs_t.c.queue_s,
        runs_t.c.head_sha,
        runs_t.c.sku,
        runs_t.c.repository_id,
    ).order_by(runs_t.c.created_at, runs_t.c.id)
    points: dict[str, list[Point]] = defaultdict(list)
    context: dict[str, list[dict[str, str | None]]] = defaultdict(list)
    for row in conn.execute(query):
        value = _run_value(metric, row)
        if value is None:
            continue
        if row.id in waited:
            value = max(value - waited[row.id], 0.0)
        points[row.series].append(Point(row.created_at, value))
        context[row.series].append(_context(row, changed))
    unit = {"duration": "s", "queue": "s", "failures": "failed"}[metric]
    return [
        Series(name, metric, unit, points[name], context[name], outcomes=metric == "failures")
        for name in points
    ]


def waits_between_jobs(
    conn: Connection, since: datetime | None, longer_than_s: float
) -> dict[int, float]:
    """Per successful run (its row id): seconds it stood still between jobs, counting only
    stretches longer than ``longer_than_s`` in which none of its jobs was running.

    ``domain.waited_between_jobs`` of its jobs; runs whose jobs are not known have none.
    """
    query = (
        select(jobs_t.c.run_pk, jobs_t.c.started_at, jobs_t.c.completed_at)
        .join(runs_t, runs_t.c.id == jobs_t.c.run_pk)
        .where(runs_t.c.conclusion == "success", runs_t.c.created_at.is_not(None))
        .where(jobs_t.c.started_at.is_not(None), jobs_t.c.completed_at.is_not(None))
    )
    if since is not None:
        query = query.where(runs_t.c.created_at >= since)
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for run_pk, started, completed in conn.execute(query):
        spans[run_pk].append((started, completed))
    waited = {pk: waited_between_jobs(jobs, longer_than_s) for pk, jobs in spans.items()}
    return {pk: seconds for pk, seconds in waited.items() if seconds > 0}


def workflow_changes(conn: Connection) -> WorkflowChanges:
    """Per repository and commit pushed: the workflow files that push changed (comma-joined).

    From the pushes GitHub delivered (``push`` webhooks list each commit's
    files); a push that changed none, or stored before the list was kept,
    is not here.
    """
    query = select(pushes_t.c.repository_id, pushes_t.c.after, pushes_t.c.workflow_files).where(
        pushes_t.c.workflow_files.is_not(None)
    )
    return {
        (row.repository_id, row.after): ", ".join(row.workflow_files)
        for row in conn.execute(query)
        if row.workflow_files
    }


def _context(row: Any, changed: WorkflowChanges) -> dict[str, str | None]:
    """What a point's run says about its cause: commit, runner type, workflow files changed."""
    files = changed.get((row.repository_id, row.head_sha)) if row.head_sha else None
    return {"commit": row.head_sha, "runner": row.sku, "workflow_files": files}


def _run_value(metric: Metric, row: Any) -> float | None:
    if metric == "duration":
        ok = row.conclusion == "success" and row.duration_s is not None
        return float(row.duration_s) if ok else None
    if metric == "queue":
        return None if row.queue_s is None else float(row.queue_s)
    if row.conclusion in FAILED_CONCLUSIONS:
        return 1.0
    return 0.0 if row.conclusion == "success" else None


def job_durations(
    conn: Connection, since: datetime | None, changed: WorkflowChanges
) -> list[Series]:
    """Per workflow and job name: seconds of each successful job."""
    query = (
        runs_of(
            since,
            jobs_t.c.name,
            jobs_t.c.started_at,
            jobs_t.c.completed_at,
            runs_t.c.head_sha,
            jobs_t.c.sku,
            runs_t.c.repository_id,
        )
        .join(jobs_t, jobs_t.c.run_pk == runs_t.c.id)
        .where(jobs_t.c.conclusion == "success", jobs_t.c.started_at.is_not(None))
        .where(jobs_t.c.completed_at.is_not(None))
        .order_by(jobs_t.c.started_at, jobs_t.c.id)
    )
    points: dict[str, list[Point]] = defaultdict(list)
    context: dict[str, list[dict[str, str | None]]] = defaultdict(list)
    for row in conn.execute(query):
        name = f"{row.series} · {row.name}"
        seconds = (row.completed_at - row.started_at).total_seconds()
        points[name].append(Point(row.started_at, seconds))
        context[name].append(_context(row, changed))
    return [Series(n, "job_duration", "s", points[n], context[n]) for n in points]
