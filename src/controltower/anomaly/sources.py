"""Series from the store: per workflow (and job), the metrics whose changes matter.

- ``duration``: seconds of each successful run, in order of creation, less the
  time it stood still between jobs for longer than ``WAIT_BETWEEN_JOBS_S``
  (with no job running: a deployment waiting for a reviewer's approval, a
  manual gate), which measures the people, not the pipeline;
- ``queue``: seconds each run waited for its first job;
- ``failures``: each completed run's outcome, 1 failed and 0 passed (bursts
  are judged over a moving window of them);
- ``cost``: USD per day of each repository and workflow, days without runs
  as zero. Jobs are priced by their billed minutes (from steps where the run
  has step records, else their span), runs stored without jobs by their
  estimated minutes, each at the rate of its runner type on its day;
- ``job_duration``: seconds of each successful job, per workflow and job name;
- ``runs``: runs per day of each workflow.

Daily totals run to the store's last complete day (the day before its
newest run: that day may not be over), or a baseline window after the
series' last run where that is sooner: a workflow that stopped shows as
days of zero (``stops``), but not as years of them. Each day (or week) of
a workflow's totals carries, as its context, the first push that day that
changed the workflow's file (any workflow file, for a repository's cost,
or where the workflow's path is not known): the likely trigger of a change
there, such as the commit that removed the workflow it stopped after.

A repository or workflow built on fewer than half of its days has daily
totals that are mostly zero, and no normal day to depart from; its cost and
runs are given as weekly totals instead (Monday to Sunday, the last week only
once it is over), which the detectors can judge where it builds most weeks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, exists, func, select

from controltower.anomaly.detection import intermittent
from controltower.anomaly.model import Metric, Point, Series
from controltower.anomaly.tuning import WEEKLY_WINDOW, followed_days
from controltower.domain import FAILED_CONCLUSIONS, WAIT_BETWEEN_JOBS_S, waited_between_jobs
from controltower.store.tables import Job, Push, Repository, Workflow, WorkflowRun, table_of

runs_t, jobs_t = table_of(WorkflowRun), table_of(Job)
repos_t, workflows_t = table_of(Repository), table_of(Workflow)
pushes_t = table_of(Push)
Rate = Callable[[str, date], float]
# per repository id and commit pushed: the workflow files that push changed, comma-joined
WorkflowChanges = dict[tuple[int, str], str]
METRICS: tuple[Metric, ...] = ("duration", "queue", "failures", "cost", "job_duration", "runs")
# Per series name (a workflow's, or a repository's): per day, the commit of the first push that
# changed its workflow file (or any workflow file), and the files it changed
DailyChanges = dict[str, dict[date, tuple[str, str]]]
_LINUX = "linux"


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


def last_complete_day(conn: Connection) -> date | None:
    """The day before the store's newest run (None: no runs)."""
    newest = conn.execute(select(func.max(runs_t.c.created_day))).scalar()
    return None if newest is None else _day(newest) - timedelta(days=1)


def _workflow_name() -> Any:
    return repos_t.c.full_name + " · " + workflows_t.c.name


def _runs(since: datetime | None, *columns: Any) -> Any:
    query = (
        select(_workflow_name().label("series"), *columns)
        .select_from(runs_t)
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .join(workflows_t, workflows_t.c.id == runs_t.c.workflow_id)
        .where(runs_t.c.created_at.is_not(None))
    )
    return query if since is None else query.where(runs_t.c.created_at >= since)


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
    query = _runs(
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


def daily_workflow_changes(conn: Connection) -> DailyChanges:
    """Per workflow series (and per repository): the first push each day that changed its file.

    A push is dated by its head commit. A workflow whose path is not known
    (history files do not say it) takes a push that changed any workflow file.
    """
    workflows = conn.execute(
        select(repos_t.c.id, repos_t.c.full_name, workflows_t.c.name, workflows_t.c.path).join(
            workflows_t, workflows_t.c.repository_id == repos_t.c.id
        )
    ).all()
    pushes = conn.execute(
        select(
            pushes_t.c.repository_id,
            pushes_t.c.after,
            pushes_t.c.head_commit_at,
            pushes_t.c.workflow_files,
        )
        .where(pushes_t.c.workflow_files.is_not(None), pushes_t.c.head_commit_at.is_not(None))
        .order_by(pushes_t.c.head_commit_at)
    ).all()
    by_repository: dict[int, list[Any]] = defaultdict(list)
    for push in pushes:
        if push.workflow_files:
            by_repository[push.repository_id].append(push)
    found: DailyChanges = defaultdict(dict)
    repositories = {repository_id: full_name for repository_id, full_name, _, _ in workflows}
    for repository_id, full_name in repositories.items():
        for push in by_repository.get(repository_id, ()):
            found[full_name].setdefault(_day(push.head_commit_at), _pushed(push))
    for repository_id, full_name, name, path in workflows:
        for push in by_repository.get(repository_id, ()):
            if path is None or path in push.workflow_files:
                series = f"{full_name} · {name}"
                found[series].setdefault(_day(push.head_commit_at), _pushed(push))
    return found


def _pushed(push: Any) -> tuple[str, str]:
    return push.after, ", ".join(push.workflow_files)


def _totals_context(
    points: list[Point], changes: dict[date, tuple[str, str]], days_per_point: int
) -> list[dict[str, str | None]]:
    """Per point of daily or weekly totals: the first workflow change in its day or week."""
    context: list[dict[str, str | None]] = []
    for point in points:
        first = point.timestamp.date()
        pushed = next(
            (
                changes[day]
                for day in (first + timedelta(days=d) for d in range(days_per_point))
                if day in changes
            ),
            None,
        )
        context.append({"commit": pushed[0], "workflow_files": pushed[1]} if pushed else {})
    return context


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
        _runs(
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


def runs_per_day(
    conn: Connection,
    since: datetime | None,
    through: date | None,
    pushed: DailyChanges | None = None,
) -> list[Series]:
    """Per workflow: how many runs were created each day (days without any as zero)."""
    query = _runs(since, runs_t.c.created_day, func.count().label("n")).group_by(
        repos_t.c.full_name, workflows_t.c.name, runs_t.c.created_day
    )
    days: dict[str, dict[date, float]] = defaultdict(dict)
    for row in conn.execute(query):
        if row.created_day is not None:
            days[row.series][_day(row.created_day)] = float(row.n)
    pushed = pushed or {}
    return [
        _totals(name, "runs", "runs", by_day, through, pushed.get(name, {}))
        for name, by_day in days.items()
    ]


def cost_series(
    conn: Connection,
    rate: Rate,
    since: datetime | None,
    through: date | None,
    pushed: DailyChanges | None = None,
) -> list[Series]:
    """USD per day of each workflow and each repository (days without runs as zero)."""
    usd: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for workflow, day, sku, minutes in _priced_minutes(conn, since):
        amount = minutes * rate(sku or _LINUX, day)
        usd[workflow][day] += amount
        usd[workflow.split(" · ", 1)[0]][day] += amount
    pushed = pushed or {}
    return [
        _totals(name, "cost", "USD", by_day, through, pushed.get(name, {}))
        for name, by_day in usd.items()
    ]


def _priced_minutes(
    conn: Connection, since: datetime | None
) -> Iterable[tuple[str, date, str | None, int]]:
    """(workflow, day, runner type, minutes) of every job, and of every run without jobs."""
    jobs = _runs(
        since,
        runs_t.c.id,
        func.coalesce(jobs_t.c.bill_day, runs_t.c.created_day).label("day"),
        jobs_t.c.sku,
        jobs_t.c.minutes_steps,
        jobs_t.c.minutes_span,
    ).join(jobs_t, jobs_t.c.run_pk == runs_t.c.id)
    by_run: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(jobs):
        by_run[row.id].append(row)
    for rows in by_run.values():
        # Where any job of a run has step records, its steps decide (GitHub bills step time).
        steps_known = any(r.minutes_steps is not None for r in rows)
        for r in rows:
            minutes = r.minutes_steps if steps_known else r.minutes_span
            if r.day is not None:
                yield r.series, _day(r.day), r.sku, int(minutes or 0)
    no_jobs = ~exists().where(jobs_t.c.run_pk == runs_t.c.id)
    estimated = _runs(
        since,
        runs_t.c.created_day,
        runs_t.c.sku,
        func.sum(func.coalesce(runs_t.c.est_minutes, 0)).label("minutes"),
    ).where(no_jobs)
    # grouped by the name's columns: PostgreSQL does not match a bound separator twice
    estimated = estimated.group_by(
        repos_t.c.full_name, workflows_t.c.name, runs_t.c.created_day, runs_t.c.sku
    )
    for row in conn.execute(estimated):
        if row.created_day is not None:
            yield row.series, _day(row.created_day), row.sku, int(row.minutes or 0)


def _day(value: Any) -> date:
    """The UTC day of a date, or of a timestamp (SQLite gives those back without their zone,
    in UTC, or as text)."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()


def _totals(
    name: str,
    metric: Metric,
    unit: str,
    by_day: dict[date, float],
    through: date | None,
    changes: dict[date, tuple[str, str]],
) -> Series:
    """Daily totals up to ``through``, or weekly ones where most days have none
    (``detection.intermittent``), each point with the workflow change of its days."""
    daily = _daily(by_day, through, followed_days(1))
    if not intermittent(np.array([p.value for p in daily], dtype=float)):
        context = _totals_context(daily, changes, 1) if changes else []
        return Series(name, metric, unit, daily, context, days_per_point=1)
    weeks = weekly(_daily(by_day, through, followed_days(7)))
    context = _totals_context(weeks, changes, 7) if changes else []
    return Series(name, metric, f"{unit} per week", weeks, context, days_per_point=7)


def weekly(daily: list[Point]) -> list[Point]:
    """Totals per week from Monday of consecutive daily points, dated on the Monday.

    The week of the last day is left out unless that day is a Sunday: it
    may not be over, and a partial total would look like a fall.
    """
    totals: dict[date, float] = defaultdict(float)
    for point in daily:
        day = point.timestamp.date()
        totals[day - timedelta(days=day.weekday())] += point.value
    if daily and daily[-1].timestamp.weekday() != 6:
        totals.pop(max(totals))
    return [Point(datetime.combine(day, time(), UTC), totals[day]) for day in sorted(totals)]


def _daily(by_day: dict[date, float], through: date | None, followed: int) -> list[Point]:
    """One point per day from the first to ``through`` (at most ``followed`` days after the
    last with a total; None: to the last), zero where nothing happened."""
    known = [day for day in by_day if through is None or day <= through]
    if not known:
        return []
    first, last = min(known), max(known)
    if through is not None:
        last = min(through, last + timedelta(days=followed))
    return [
        Point(
            datetime.combine(first + timedelta(days=d), time(), UTC),
            by_day.get(first + timedelta(days=d), 0.0),
        )
        for d in range((last - first).days + 1)
    ]
