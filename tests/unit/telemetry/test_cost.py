"""Cost: dated rates, runner types, billable time and rounding."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from controltower.config import DEFAULT_RATES
from controltower.domain import JobFact, StepFact
from controltower.telemetry.cost import (
    LINUX,
    LINUX_1_CORE,
    MACOS,
    SELF_HOSTED,
    WINDOWS,
    RatePeriod,
    RateTable,
    billable_seconds,
    job_cost,
    runner_sku,
)

RATES = RateTable([RatePeriod(p.effective, p.per_minute) for p in DEFAULT_RATES])
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _job(
    seconds: float,
    *,
    labels: tuple[str, ...] = ("ubuntu-latest",),
    steps: bool = True,
    conclusion: str = "success",
    start: datetime = T0,
) -> JobFact:
    end = start + timedelta(seconds=seconds)
    step = StepFact(1, "test", "completed", conclusion, start, end)
    return JobFact(
        key="1",
        name="test",
        conclusion=conclusion,
        started_at=start,
        completed_at=end,
        runner_labels=labels,
        steps=(step,) if steps else (),
    )


@pytest.mark.parametrize(
    ("sku", "day", "rate"),
    [
        (LINUX, date(2025, 12, 31), 0.008),
        (LINUX, date(2026, 1, 1), 0.006),
        (WINDOWS, date(2025, 6, 1), 0.016),
        (WINDOWS, date(2026, 6, 1), 0.010),
        (MACOS, date(2026, 6, 1), 0.062),
        (MACOS, date(2025, 6, 1), 0.080),
        (LINUX_1_CORE, date(2026, 6, 1), 0.002),
        (SELF_HOSTED, date(2026, 6, 1), 0.0),
    ],
)
def test_rates_follow_their_dates(sku: str, day: date, rate: float) -> None:
    """Each runner type's rate is the one in force on the job's day (2026-01-01 change)."""
    assert RATES.rate(sku, day) == rate


@pytest.mark.parametrize(
    ("labels", "runner_os", "sku"),
    [
        (("ubuntu-latest",), None, LINUX),
        (("windows-2022",), None, WINDOWS),
        (("macos-14",), None, MACOS),
        (("ubuntu-slim",), None, LINUX_1_CORE),
        (("self-hosted", "linux", "x64"), None, SELF_HOSTED),
        ((), "windows", WINDOWS),
        ((), "other", LINUX),
    ],
)
def test_runner_type_comes_from_labels_then_os(
    labels: tuple[str, ...], runner_os: str | None, sku: str
) -> None:
    """Labels decide the runner type; self-hosted wins; without labels the OS decides."""
    assert runner_sku(labels, runner_os) == sku


def test_each_job_is_rounded_up_to_whole_minutes() -> None:
    """61 seconds on Linux in 2026 bills 2 minutes at $0.006."""
    priced = job_cost(_job(61), RATES)
    assert (priced.minutes, priced.sku, priced.usd) == (2, LINUX, 0.012)


def test_self_hosted_minutes_are_free() -> None:
    """A self-hosted job bills its minutes at zero."""
    priced = job_cost(_job(600, labels=("self-hosted",)), RATES)
    assert priced.minutes == 10
    assert priced.usd == 0.0


def test_job_that_waited_and_never_ran_a_step_costs_nothing() -> None:
    """A deployment job cancelled after weeks waiting for approval, with no steps, is free."""
    waited = _job(3 * 7 * 24 * 3600, steps=False, conclusion="cancelled")
    assert billable_seconds(waited) == 0.0
    assert job_cost(waited, RATES).usd == 0.0


def test_billable_time_is_the_span_of_the_steps_that_ran() -> None:
    """Waiting before the first step is not billed; skipped steps do not count."""
    start = T0 + timedelta(hours=5)
    steps = (
        StepFact(1, "approval wait", "completed", "skipped", T0, start),
        StepFact(2, "deploy", "completed", "success", start, start + timedelta(seconds=90)),
    )
    job = JobFact(
        key="j",
        name="deploy",
        conclusion="success",
        started_at=T0,
        completed_at=start + timedelta(seconds=90),
        steps=steps,
    )
    assert billable_seconds(job) == 90.0


def test_job_without_step_data_is_billed_from_start_to_end() -> None:
    """When steps are unknown, a completed job is billed for its whole duration."""
    assert billable_seconds(_job(300, steps=False)) == 300.0


def test_job_with_no_step_run_where_steps_are_recorded_is_free() -> None:
    """A deployment job that waited a month and then failed, no step run, costs nothing."""
    waited = _job(30 * 86400, steps=False, conclusion="failure")
    assert billable_seconds(waited, steps_known=True) == 0.0


def test_without_step_data_a_hosted_job_bills_at_most_six_hours() -> None:
    """GitHub-hosted runners stop a job after six hours; longer spans were waiting."""
    assert billable_seconds(_job(30 * 86400, steps=False, conclusion="failure")) == 6 * 3600


def test_rate_table_needs_a_period() -> None:
    """An empty table is refused rather than pricing everything at nothing."""
    with pytest.raises(ValueError, match="at least one period"):
        RateTable([])
