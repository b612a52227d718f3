"""Telemetry use cases: load the facts of a window from the store and summarize them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, exists, func, literal, select

from controltower.domain import FAILED_CONCLUSIONS
from controltower.telemetry.cost import LINUX, RatePeriod, RateTable
from controltower.telemetry.metrics import (
    Attempt,
    GroupMetrics,
    Outcome,
    Stats,
    Window,
    by_group,
    compare,
    flaky_commits,
    summarize,
)
from controltower.telemetry.scope import (
    GROUPS,
    Filters,
    jobs_t,
    repos_t,
    runs_query,
    runs_t,
    workflows_t,
)

RUN_GROUPS: dict[str, Any] = {
    "repository": repos_t.c.full_name,
    "workflow": repos_t.c.full_name + " · " + workflows_t.c.name,
    "branch": repos_t.c.full_name + " · " + func.coalesce(runs_t.c.branch, ""),
}
_DAY = "day"
_ALL = "all"


def _latest() -> Any:
    """Whether an attempt is its run's latest stored one (a unique-index lookup per row)."""
    later = runs_t.alias("later")
    return ~exists().where(
        later.c.repository_id == runs_t.c.repository_id,
        later.c.run_id == runs_t.c.run_id,
        later.c.attempt > runs_t.c.attempt,
    )


def _figures(
    conn: Connection,
    window: Window,
    filters: Filters,
    keys: Sequence[str],
    *,
    with_flaky: bool = True,
) -> dict[str, dict[str, Stats]]:
    """Stats per value of each of ``keys`` (run groups, ``day``, ``all``) from one pass.

    The window's attempts are loaded once as plain values (no timestamps), and
    flaky commits are counted only among commits that both failed and passed
    (not at all without ``with_flaky``: then every group has 0).
    """
    columns = _key_columns(keys)
    rows = conn.execute(
        runs_query(
            window,
            filters,
            *columns,
            _latest().label("latest"),
            runs_t.c.conclusion,
            runs_t.c.duration_s,
            runs_t.c.queue_s,
            runs_t.c.attempt,
        )
    ).all()
    width = len(columns)
    split: dict[str, dict[str, list[Outcome]]] = {key: defaultdict(list) for key in keys}
    for row in rows:
        outcome = Outcome(bool(row[width]), *row[width + 1 : width + 5])
        for index, key in enumerate(keys):
            split[key][_label(key, row[index])].append(outcome)
    flaky = _flaky(conn, window, filters, keys) if with_flaky else {key: {} for key in keys}
    return {
        key: {
            group: summarize(outcomes, flaky[key].get(group, 0))
            for group, outcomes in split[key].items()
        }
        for key in keys
    }


def _key_columns(keys: Sequence[str]) -> list[Any]:
    columns: list[Any] = []
    for key in keys:
        if key == _DAY:
            columns.append(runs_t.c.created_day)
        elif key == _ALL:
            columns.append(literal(_ALL))
        else:
            columns.append(RUN_GROUPS[key])
    return columns


def _label(key: str, value: Any) -> str:
    if key == _DAY:
        return value.isoformat() if isinstance(value, date) else str(value)
    return str(value)


def _flaky(
    conn: Connection, window: Window, filters: Filters, keys: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Flaky commits per group of each key, from the commits that both failed and passed."""
    failed = func.sum(case((runs_t.c.conclusion.in_(FAILED), 1), else_=0))
    passed = func.sum(case((runs_t.c.conclusion == "success", 1), else_=0))
    candidates = (
        runs_query(window, filters, runs_t.c.head_sha)
        .where(runs_t.c.head_sha.is_not(None))
        .group_by(runs_t.c.head_sha)
        .having(failed > 0, passed > 0)
    )
    columns = _key_columns(keys)
    rows = conn.execute(
        runs_query(
            window,
            filters,
            *columns,
            repos_t.c.full_name,
            runs_t.c.run_id,
            runs_t.c.attempt,
            runs_t.c.conclusion,
            runs_t.c.created_at,
            runs_t.c.head_sha,
        ).where(runs_t.c.head_sha.in_(candidates))
    ).all()
    width = len(columns)
    result: dict[str, dict[str, int]] = {}
    for index, key in enumerate(keys):
        groups: dict[str, list[Attempt]] = defaultdict(list)
        for row in rows:
            groups[_label(key, row[index])].append(
                Attempt(
                    "",
                    f"{row[width]}#{row[width + 1]}",
                    row[width + 2],
                    row[width + 3],
                    row[width + 4],
                    None,
                    None,
                    row[width + 5],
                )
            )
        result[key] = {group: flaky_commits(items) for group, items in groups.items()}
    return result


def _job_attempts(conn: Connection, window: Window, filters: Filters) -> list[Attempt]:
    query = runs_query(
        window,
        filters,
        repos_t.c.full_name,
        workflows_t.c.name.label("workflow"),
        runs_t.c.run_id,
        runs_t.c.attempt,
        runs_t.c.head_sha,
        jobs_t.c.name.label("job"),
        jobs_t.c.conclusion,
        jobs_t.c.created_at,
        jobs_t.c.started_at,
        jobs_t.c.completed_at,
    ).join(jobs_t, jobs_t.c.run_pk == runs_t.c.id)
    attempts = []
    for r in conn.execute(query):
        duration = (
            (r.completed_at - r.started_at).total_seconds()
            if r.completed_at is not None and r.started_at is not None
            else None
        )
        attempts.append(
            Attempt(
                f"{r.full_name} · {r.workflow} · {r.job}",
                f"{r.full_name}#{r.run_id}#{r.job}",
                r.attempt,
                r.conclusion,
                r.created_at,
                r.started_at,
                duration,
                r.head_sha,
            )
        )
    return attempts


FAILED = tuple(sorted(str(c) for c in FAILED_CONCLUSIONS))


def metrics(
    conn: Connection, window: Window, filters: Filters, group: str = "repository"
) -> list[GroupMetrics]:
    """Figures per group for ``window``, with their change against the previous window."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}")

    if group == "job":
        return by_group(
            _job_attempts(conn, window, filters), _job_attempts(conn, window.previous(), filters)
        )
    now = _figures(conn, window, filters, [group])[group]
    before = _figures(conn, window.previous(), filters, [group])[group]
    return _compared(now, before)


def _compared(now: dict[str, Stats], before: dict[str, Stats]) -> list[GroupMetrics]:
    result = [
        GroupMetrics(group, current, before.get(group), compare(current, before.get(group)))
        for group, current in now.items()
    ]
    result.sort(key=lambda g: (-g.current.attempts, g.group))
    return result


@dataclass(frozen=True, slots=True)
class Overview:
    """The figures the overview shows, from one load of the window and one of the one before."""

    total: Stats
    days: list[GroupMetrics]
    groups: list[GroupMetrics]


def overview(conn: Connection, window: Window, filters: Filters, group: str) -> Overview:
    """Totals, the per-day trend, and per-``group`` figures with change, of the window."""
    now = _figures(conn, window, filters, [_ALL, _DAY, group])
    before = _figures(conn, window.previous(), filters, [group])[group]
    empty = summarize([])
    return Overview(
        total=now[_ALL].get(_ALL, empty),
        days=_days(now[_DAY]),
        groups=_compared(now[group], before),
    )


def _days(days: dict[str, Stats]) -> list[GroupMetrics]:
    return [GroupMetrics(day, days[day], None, compare(days[day], None)) for day in sorted(days)]


@dataclass
class CostReport:
    """Cost of a window: totals by repository, workflow and day, and how it was counted."""

    total_usd: float = 0.0
    billed_minutes: int = 0
    jobs_billed: int = 0
    jobs_free: int = 0
    runs_estimated: int = 0
    by_repository: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    by_workflow: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    by_day: dict[date, float] = field(default_factory=lambda: defaultdict(float))
    by_runner: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def cost(conn: Connection, window: Window, filters: Filters, rates: RateTable) -> CostReport:
    """Price every job of the window's runs; runs without jobs are estimated from their duration.

    Jobs are billed as GitHub bills them (whole minutes of runner time, at the
    dated rate of their runner type, ``domain.billing``); a run known without
    its jobs (history imports from other CI systems) is counted as one job of
    its whole duration, and reported in ``runs_estimated``. The minutes are
    summed in the database by repository, workflow, day and runner type, and
    priced here, so the rate table stays configurable without rewriting rows.
    """
    report = CostReport()
    for row in conn.execute(_job_minutes(window, filters)):
        _add(report, rates, row)
    for row in conn.execute(_estimated_minutes(window, filters)):
        _add(report, rates, row)
        report.runs_estimated += row.jobs
    return report


def _add(report: CostReport, rates: RateTable, row: Any) -> None:
    day = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
    usd = int(row.minutes or 0) * rates.rate(row.sku or LINUX, day)
    report.total_usd += usd
    report.billed_minutes += int(row.minutes or 0)
    report.jobs_billed += int(row.billed)
    report.jobs_free += int(row.jobs) - int(row.billed)
    report.by_repository[row.full_name] += usd
    report.by_workflow[f"{row.full_name} · {row.workflow}"] += usd
    report.by_day[day] += usd
    report.by_runner[row.sku or LINUX] += usd


def _job_minutes(window: Window, filters: Filters) -> Any:
    """Billed minutes of the window's jobs by repository, workflow, day and runner type.

    Which minutes apply depends on the run: where any of its jobs has step
    records, minutes from steps (a job that ran none is free); else its span.
    """
    steps_known = func.max(case((jobs_t.c.minutes_steps.is_not(None), 1), else_=0)).over(
        partition_by=jobs_t.c.run_pk
    )
    jobs = (
        runs_query(
            window,
            filters,
            repos_t.c.full_name,
            workflows_t.c.name.label("workflow"),
            func.coalesce(jobs_t.c.bill_day, runs_t.c.created_day).label("day"),
            jobs_t.c.sku,
            jobs_t.c.minutes_steps,
            jobs_t.c.minutes_span,
            steps_known.label("steps_known"),
        )
        .join(jobs_t, jobs_t.c.run_pk == runs_t.c.id)
        .subquery()
    )
    minutes = case(
        (jobs.c.steps_known == 1, func.coalesce(jobs.c.minutes_steps, 0)),
        else_=func.coalesce(jobs.c.minutes_span, 0),
    )
    return select(
        jobs.c.full_name,
        jobs.c.workflow,
        jobs.c.day,
        jobs.c.sku,
        func.sum(minutes).label("minutes"),
        func.count().label("jobs"),
        func.sum(case((minutes > 0, 1), else_=0)).label("billed"),
    ).group_by(jobs.c.full_name, jobs.c.workflow, jobs.c.day, jobs.c.sku)


def _estimated_minutes(window: Window, filters: Filters) -> Any:
    """Minutes of the window's runs known without jobs, each priced as one job."""
    minutes = func.coalesce(runs_t.c.est_minutes, 0)
    no_jobs = ~exists().where(jobs_t.c.run_pk == runs_t.c.id)
    return (
        runs_query(
            window,
            filters,
            repos_t.c.full_name,
            workflows_t.c.name.label("workflow"),
            runs_t.c.created_day.label("day"),
            runs_t.c.sku,
            func.sum(minutes).label("minutes"),
            func.count().label("jobs"),
            func.sum(case((minutes > 0, 1), else_=0)).label("billed"),
        )
        .where(no_jobs)
        .group_by(repos_t.c.full_name, workflows_t.c.name, runs_t.c.created_day, runs_t.c.sku)
    )


def default_window(conn: Connection, days: int, end: datetime | None = None) -> Window:
    """The ``days`` before ``end``; without ``end``, up to the newest stored run (or now).

    Ending at the newest run keeps an imported history (whose last run may be
    months old) in view; on a live installation the newest run is about now.
    """
    if end is None:
        newest = conn.execute(select(func.max(runs_t.c.created_at))).scalar_one_or_none()
        now = datetime.now(UTC)
        end = min(now, newest + timedelta(seconds=1)) if newest is not None else now
    return Window(end - timedelta(days=days), end)


def rate_table(periods: Sequence[Any]) -> RateTable:
    """The rate table of the settings' ``telemetry.rates``."""
    return RateTable([RatePeriod(p.effective, dict(p.per_minute)) for p in periods])


def trend(conn: Connection, window: Window, filters: Filters) -> list[GroupMetrics]:
    """Per-day figures over the window (days in UTC, oldest first), for trend charts."""
    return _days(_figures(conn, window, filters, [_DAY])[_DAY])


def figures(
    conn: Connection, window: Window, filters: Filters, group: str, *, with_flaky: bool = True
) -> dict[str, Stats]:
    """The figures of each ``group`` (repository, workflow or branch) in the window: one pass.

    Without ``with_flaky`` flaky commits are not counted (0), which saves a query.
    """
    return _figures(conn, window, filters, [group], with_flaky=with_flaky)[group]


def total(conn: Connection, window: Window, filters: Filters) -> Stats:
    """The figures of everything in the window taken together."""
    return _figures(conn, window, filters, [_ALL])[_ALL].get(_ALL, summarize([]))
