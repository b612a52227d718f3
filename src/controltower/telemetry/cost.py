"""What CI minutes cost: dated per-minute rates by runner type, and the billable time of a job.

GitHub bills each job rounded up to whole minutes at the rate of its runner
type; self-hosted runners are free. Rates change over time, so they live in a
dated table (``RateTable``), configurable, where each entry applies from its
date until the next one. Pure: no I/O.

Only time a runner actually ran the job is billed. A job that waited for an
approval or a runner and never ran a step costs nothing (real histories hold
deployment jobs that waited for weeks, then failed or were cancelled, with no
step run). Where the source records steps (any job of the run has some), the
billable span is from the first step's start to the last step's end, and a
job with no step that ran is free. Where it does not, a cancelled or skipped
job is free and any other is billed from its start to its end, at most the
six hours a GitHub-hosted runner lets a job run.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from controltower.domain import JobFact

SELF_HOSTED = "self_hosted"
LINUX = "linux"
LINUX_1_CORE = "linux_1core"
WINDOWS = "windows"
MACOS = "macos"
SKUS = (LINUX, LINUX_1_CORE, WINDOWS, MACOS, SELF_HOSTED)
FREE_WITHOUT_STEPS = frozenset({"cancelled", "skipped", "action_required"})
HOSTED_JOB_LIMIT_S = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class RatePeriod:
    """USD per minute by runner type, from ``effective`` (inclusive) until the next period."""

    effective: date
    per_minute: dict[str, float]


class RateTable:
    """Dated rates: ``rate(sku, day)`` is the per-minute price in force on ``day``.

    The defaults (GitHub's published rates before and from 2026-01-01) live in
    the settings (``telemetry.rates``), where an installation can change them.
    """

    def __init__(self, periods: Sequence[RatePeriod]) -> None:
        if not periods:
            raise ValueError("a rate table needs at least one period")
        self.periods = sorted(periods, key=lambda p: p.effective)
        self._starts = [p.effective for p in self.periods]

    def rate(self, sku: str, day: date) -> float:
        """USD per minute for ``sku`` on ``day``; unknown runner types are priced as Linux."""
        index = max(0, bisect_right(self._starts, day) - 1)
        table = self.periods[index].per_minute
        return table.get(sku, table.get(LINUX, 0.0))


def runner_sku(labels: Iterable[str], runner_os: str | None = None) -> str:
    """The billing type of a runner from its labels (or, failing those, its OS)."""
    joined = " ".join(label.lower() for label in labels)
    if "self-hosted" in joined:
        return SELF_HOSTED
    if "ubuntu-slim" in joined:
        return LINUX_1_CORE
    for needle, sku in (("windows", WINDOWS), ("macos", MACOS)):
        if needle in joined:
            return sku
    if not joined and runner_os in (WINDOWS, MACOS):
        return runner_os
    return LINUX


def billable_seconds(job: JobFact, *, steps_known: bool | None = None) -> float:
    """Seconds a runner ran ``job``; ``steps_known``: whether its source records steps.

    By default the job's own steps say whether steps are recorded.
    """
    ran = [s for s in job.steps if s.started_at is not None and s.conclusion != "skipped"]
    if steps_known if steps_known is not None else bool(job.steps):
        ends = [s.completed_at for s in ran if s.completed_at is not None]
        if not ran or not ends:
            return 0.0
        start = min(s.started_at for s in ran if s.started_at is not None)
        return max(0.0, (max(ends) - start).total_seconds())
    if job.conclusion in FREE_WITHOUT_STEPS or job.started_at is None or job.completed_at is None:
        return 0.0
    return min(HOSTED_JOB_LIMIT_S, max(0.0, (job.completed_at - job.started_at).total_seconds()))


@dataclass(frozen=True, slots=True)
class JobCost:
    """The bill of one job: whole minutes, the runner type and rate used, and the price."""

    minutes: int
    sku: str
    rate: float
    usd: float


def job_cost(
    job: JobFact,
    rates: RateTable,
    *,
    fallback_day: date | None = None,
    steps_known: bool | None = None,
) -> JobCost:
    """Price a job: billable time rounded up to whole minutes times the rate of its runner."""
    seconds = billable_seconds(job, steps_known=steps_known)
    minutes = math.ceil(seconds / 60) if seconds > 0 else 0
    sku = runner_sku(job.runner_labels, job.runner_os)
    stamp = job.started_at or job.completed_at
    day = stamp.astimezone(UTC).date() if stamp else (fallback_day or datetime.now(UTC).date())
    rate = rates.rate(sku, day)
    return JobCost(minutes=minutes, sku=sku, rate=rate, usd=round(minutes * rate, 6))
