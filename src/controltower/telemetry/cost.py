"""What CI minutes cost: dated per-minute rates by runner type, applied to billed minutes.

Rates change over time, so they live in a dated table (``RateTable``),
configurable, where each entry applies from its date until the next one. What
a job's billed minutes and runner type are is ``domain.billing``. Pure: no I/O.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from controltower.domain import JobFact
from controltower.domain.billing import (
    FREE_WITHOUT_STEPS,
    HOSTED_JOB_LIMIT_S,
    LINUX,
    LINUX_1_CORE,
    MACOS,
    SELF_HOSTED,
    SKUS,
    WINDOWS,
    billable_seconds,
    billed_minutes,
    runner_sku,
)

__all__ = [
    "FREE_WITHOUT_STEPS",
    "HOSTED_JOB_LIMIT_S",
    "LINUX",
    "LINUX_1_CORE",
    "MACOS",
    "SELF_HOSTED",
    "SKUS",
    "WINDOWS",
    "JobCost",
    "RatePeriod",
    "RateTable",
    "billable_seconds",
    "billed_minutes",
    "job_cost",
    "runner_sku",
]


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
    minutes = billed_minutes(billable_seconds(job, steps_known=steps_known))
    sku = runner_sku(job.runner_labels, job.runner_os)
    stamp = job.started_at or job.completed_at
    day = stamp.astimezone(UTC).date() if stamp else (fallback_day or datetime.now(UTC).date())
    rate = rates.rate(sku, day)
    return JobCost(minutes=minutes, sku=sku, rate=rate, usd=round(minutes * rate, 6))
