"""Telemetry use cases: load the facts of a window from the store and summarize them."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from controltower.domain import JobFact, StepFact
from controltower.telemetry.cost import JobCost, RatePeriod, RateTable, job_cost, runner_sku
from controltower.telemetry.metrics import Attempt, GroupMetrics, Stats, Window, by_group, stats
from controltower.telemetry.scope import (
    GROUPS,
    Filters,
    jobs_t,
    repos_t,
    runs_query,
    runs_t,
    steps_t,
    workflows_t,
)


def _run_attempts(conn: Connection, window: Window, filters: Filters, group: str) -> list[Attempt]:
    label = {
        "repository": repos_t.c.full_name,
        "workflow": repos_t.c.full_name + " · " + workflows_t.c.name,
        "branch": repos_t.c.full_name + " · " + runs_t.c.branch,
    }[group]
    rows = conn.execute(
        runs_query(
            window,
            filters,
            label.label("group"),
            repos_t.c.full_name,
            runs_t.c.run_id,
            runs_t.c.attempt,
            runs_t.c.conclusion,
            runs_t.c.created_at,
            runs_t.c.started_at,
            runs_t.c.duration_s,
            runs_t.c.head_sha,
        )
    )
    return [
        Attempt(
            str(r.group),
            f"{r.full_name}#{r.run_id}",
            r.attempt,
            r.conclusion,
            r.created_at,
            r.started_at,
            r.duration_s,
            r.head_sha,
        )
        for r in rows
    ]


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


def metrics(
    conn: Connection, window: Window, filters: Filters, group: str = "repository"
) -> list[GroupMetrics]:
    """Figures per group for ``window``, with their change against the previous window."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}")

    def load(w: Window) -> list[Attempt]:
        if group == "job":
            return _job_attempts(conn, w, filters)
        return _run_attempts(conn, w, filters, group)

    return by_group(load(window), load(window.previous()))


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
    dated rate of their runner type); a run known without its jobs (history
    imports from other CI systems) is counted as one job of its whole
    duration, and reported in ``runs_estimated``.
    """
    report = CostReport()
    runs = conn.execute(
        runs_query(
            window,
            filters,
            runs_t.c.id,
            repos_t.c.full_name,
            workflows_t.c.name.label("workflow"),
            runs_t.c.created_at,
            runs_t.c.duration_s,
            runs_t.c.runner_os,
            runs_t.c.runner_labels,
        )
    ).all()
    jobs = _jobs_of(conn, [r.id for r in runs])
    for run in runs:
        day = run.created_at.date() if run.created_at else date.today()
        priced: Sequence[JobCost]
        if run.id in jobs:
            known = any(job.steps for job in jobs[run.id])
            priced = [
                job_cost(job, rates, fallback_day=day, steps_known=known) for job in jobs[run.id]
            ]
        else:
            priced = [_estimate(run, rates, day)]
            report.runs_estimated += 1
        for item in priced:
            report.total_usd += item.usd
            report.billed_minutes += item.minutes
            report.jobs_billed += item.minutes > 0
            report.jobs_free += item.minutes == 0
            report.by_repository[run.full_name] += item.usd
            report.by_workflow[f"{run.full_name} · {run.workflow}"] += item.usd
            report.by_day[day] += item.usd
            report.by_runner[item.sku] += item.usd
    return report


def _estimate(run: Any, rates: RateTable, day: date) -> JobCost:
    minutes = math.ceil(run.duration_s / 60) if run.duration_s else 0
    sku = runner_sku(run.runner_labels or (), run.runner_os)
    rate = rates.rate(sku, day)
    return JobCost(minutes=minutes, sku=sku, rate=rate, usd=round(minutes * rate, 6))


def _jobs_of(conn: Connection, run_ids: list[int]) -> dict[int, list[JobFact]]:
    jobs: dict[int, list[JobFact]] = defaultdict(list)
    for start in range(0, len(run_ids), 5000):
        chunk = run_ids[start : start + 5000]
        job_rows = conn.execute(select(jobs_t).where(jobs_t.c.run_pk.in_(chunk))).all()
        steps: dict[int, list[StepFact]] = defaultdict(list)
        job_ids = [j.id for j in job_rows]
        for s_start in range(0, len(job_ids), 5000):
            for s in conn.execute(
                select(
                    steps_t.c.job_pk,
                    steps_t.c.number,
                    steps_t.c.name,
                    steps_t.c.conclusion,
                    steps_t.c.started_at,
                    steps_t.c.completed_at,
                ).where(steps_t.c.job_pk.in_(job_ids[s_start : s_start + 5000]))
            ):
                steps[s.job_pk].append(
                    StepFact(
                        s.number, s.name, "completed", s.conclusion, s.started_at, s.completed_at
                    )
                )
        for j in job_rows:
            jobs[j.run_pk].append(
                JobFact(
                    key=j.key,
                    name=j.name,
                    conclusion=j.conclusion,
                    started_at=j.started_at,
                    completed_at=j.completed_at,
                    runner_os=j.runner_os,
                    runner_labels=tuple(j.runner_labels or ()),
                    steps=tuple(steps.get(j.id, ())),
                )
            )
    return jobs


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
    attempts = [
        Attempt(
            a.created_at.date().isoformat(),
            a.run_key,
            a.attempt,
            a.conclusion,
            a.created_at,
            a.started_at,
            a.duration_s,
            a.head_sha,
        )
        for a in _run_attempts(conn, window, filters, "repository")
        if a.created_at is not None
    ]
    return sorted(by_group(attempts, []), key=lambda g: g.group)


def total(conn: Connection, window: Window, filters: Filters) -> Stats:
    """The figures of everything in the window taken together."""
    return stats(_run_attempts(conn, window, filters, "repository"))
