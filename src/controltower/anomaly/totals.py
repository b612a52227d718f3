"""Daily and weekly totals from the store: cost and runs per repository and workflow.

Cost is USD per day of each repository and workflow, days without runs as
zero: jobs priced by their billed minutes (from steps where the run has step
records, else their span), runs stored without jobs by their estimated
minutes, each at the rate of its runner type on its day. Runs are counted per
day of each workflow. Daily totals run to the store's last complete day (the
day before its newest run: that day may not be over), or a baseline window
after the series' last run where that is sooner: a workflow that stopped
shows as days of zero, but not as years of them. Each day (or week) carries,
as its context, the first push that day that changed the workflow's file (any
workflow file, for a repository's cost, or where the workflow's path is not
known). A repository or workflow built on fewer than half of its days is
given as weekly totals (Monday to Sunday, the last week only once it is over).
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
from controltower.anomaly.tuning import followed_days
from controltower.store.tables import Job, Push, Repository, Workflow, WorkflowRun, table_of

runs_t, jobs_t = table_of(WorkflowRun), table_of(Job)
repos_t, workflows_t = table_of(Repository), table_of(Workflow)
pushes_t = table_of(Push)
Rate = Callable[[str, date], float]
# Per series name (a workflow's, or a repository's): per day, the commit of the first push that
# changed its workflow file (or any workflow file), and the files it changed
DailyChanges = dict[str, dict[date, tuple[str, str]]]
_LINUX = "linux"


def last_complete_day(conn: Connection) -> date | None:
    """The day before the store's newest run (None: no runs)."""
    newest = conn.execute(select(func.max(runs_t.c.created_day))).scalar()
    return None if newest is None else day_of(newest) - timedelta(days=1)


def series_name() -> Any:
    """A workflow's series name as a query column: ``owner/name · workflow``."""
    return repos_t.c.full_name + " · " + workflows_t.c.name


def runs_of(since: datetime | None, *columns: Any) -> Any:
    """A query of ``columns`` of the runs created since ``since`` (all: None), with the series
    name of their workflow (``series``)."""
    query = (
        select(series_name().label("series"), *columns)
        .select_from(runs_t)
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .join(workflows_t, workflows_t.c.id == runs_t.c.workflow_id)
        .where(runs_t.c.created_at.is_not(None))
    )
    return query if since is None else query.where(runs_t.c.created_at >= since)


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
            found[full_name].setdefault(day_of(push.head_commit_at), _pushed(push))
    for repository_id, full_name, name, path in workflows:
        for push in by_repository.get(repository_id, ()):
            if path is None or path in push.workflow_files:
                series = f"{full_name} · {name}"
                found[series].setdefault(day_of(push.head_commit_at), _pushed(push))
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


def runs_per_day(
    conn: Connection,
    since: datetime | None,
    through: date | None,
    pushed: DailyChanges | None = None,
) -> list[Series]:
    """Per workflow: how many runs were created each day (days without any as zero)."""
    query = runs_of(since, runs_t.c.created_day, func.count().label("n")).group_by(
        repos_t.c.full_name, workflows_t.c.name, runs_t.c.created_day
    )
    days: dict[str, dict[date, float]] = defaultdict(dict)
    for row in conn.execute(query):
        if row.created_day is not None:
            days[row.series][day_of(row.created_day)] = float(row.n)
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
    jobs = runs_of(
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
                yield r.series, day_of(r.day), r.sku, int(minutes or 0)
    no_jobs = ~exists().where(jobs_t.c.run_pk == runs_t.c.id)
    estimated = runs_of(
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
            yield row.series, day_of(row.created_day), row.sku, int(row.minutes or 0)


def day_of(value: Any) -> date:
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
