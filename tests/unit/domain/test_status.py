"""Snapshot ordering: later lifecycle stages win, then later updates, then content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controltower.domain import (
    END_NOT_KNOWN,
    could_be_running,
    is_failed,
    is_passed,
    run_result,
    snapshot_key,
    waited_between_jobs,
)

T1 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T2 = datetime(2026, 1, 1, 12, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        (snapshot_key("queued", T2, "ff"), snapshot_key("in_progress", T1, "00")),
        (snapshot_key("in_progress", T2, "ff"), snapshot_key("completed", T1, "00")),
        (snapshot_key("completed", T1, "ff"), snapshot_key("completed", T2, "00")),
        (snapshot_key("completed", T1, "00"), snapshot_key("completed", T1, "01")),
        (snapshot_key(None, None, "ff"), snapshot_key("requested", None, "00")),
    ],
)
def test_snapshot_keys_order_by_stage_then_time_then_digest(lower: str, higher: str) -> None:
    """A completed snapshot always supersedes an in-progress one, whatever its timestamp."""
    assert lower < higher


@pytest.mark.parametrize(
    ("conclusion", "failed", "passed"),
    [
        ("failure", True, False),
        ("timed_out", True, False),
        ("startup_failure", True, False),
        ("success", False, True),
        ("cancelled", False, False),
        (None, False, False),
    ],
)
def test_failed_and_passed_follow_the_format_rules(
    conclusion: str | None, failed: bool, passed: bool
) -> None:
    """failure, timed_out and startup_failure fail; success passes; the rest are neither."""
    assert (is_failed(conclusion), is_passed(conclusion)) == (failed, passed)


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "age", "running"),
    [
        ("queued", timedelta(hours=23), True),
        ("queued", timedelta(hours=25), False),  # GitHub cancels a run queued over a day
        ("pending", timedelta(days=2), False),
        ("waiting", timedelta(days=20), True),  # an environment's approval waits up to 30 days
        ("in_progress", timedelta(days=34), True),
        ("in_progress", timedelta(days=36), False),  # no run lasts past 35 days
        ("in_progress", timedelta(days=400), False),
        ("completed", timedelta(0), False),
        ("in_progress", None, True),  # without a time, nothing says it ended
    ],
)
def test_a_run_reported_unfinished_long_ago_cannot_be_going_on(
    status: str, age: timedelta | None, running: bool
) -> None:
    """GitHub's time limits end a run: past them, it is not running whatever it last said."""
    since = None if age is None else NOW - age
    assert could_be_running(status, since, NOW) is running


def test_a_runs_result_is_its_conclusion_its_status_or_end_not_known() -> None:
    """Finished: its conclusion; unfinished: its status while it can last, then no end known."""
    old = NOW - timedelta(days=450)
    assert run_result("completed", "failure", old, NOW) == "failure"
    assert run_result("in_progress", None, NOW - timedelta(hours=1), NOW) == "in_progress"
    assert run_result("pending", None, old.replace(tzinfo=None), NOW) == END_NOT_KNOWN


def test_a_wait_between_jobs_is_a_stretch_with_no_job_running() -> None:
    """Only stretches over the bar count, whole; a long job spanning a gap leaves none."""
    t = datetime(2026, 1, 1, tzinfo=UTC)

    def span(start: float, end: float) -> tuple[datetime, datetime]:
        return t + timedelta(seconds=start), t + timedelta(seconds=end)

    gated = [span(0, 300), span(5000, 5100), span(310, 400)]  # in any order
    assert waited_between_jobs(gated) == 4600
    assert waited_between_jobs(gated, longer_than_s=5000) == 0
    assert waited_between_jobs([span(0, 300), span(0, 6000), span(5000, 5100)]) == 0
    assert waited_between_jobs([]) == 0
