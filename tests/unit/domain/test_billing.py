"""What the store keeps beside a run attempt: its day, queue time, runner type and minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controltower.domain.billing import run_figures

CREATED = datetime(2026, 5, 1, 23, 59, 50, tzinfo=UTC)


def test_a_first_attempt_waits_from_its_request_to_its_start() -> None:
    """Requested 23:59:50, started ten seconds later: 10 s of queue, on the day it was asked."""
    figures = run_figures(CREATED, CREATED + timedelta(seconds=10), 61.0, ["ubuntu-latest"], None)
    assert figures["queue_s"] == 10.0
    assert figures["created_day"] == CREATED.date()
    assert figures["est_minutes"] == 2


def test_a_re_run_has_no_queue_time_and_a_start_before_the_request_none_either() -> None:
    """Attempt 2 keeps the run's first created_at (its start days later is no wait); a start
    before the request is a clock error, not a negative wait."""
    later = CREATED + timedelta(days=3)
    assert run_figures(CREATED, later, 61.0, [], "Linux", attempt=2)["queue_s"] is None
    assert run_figures(CREATED, CREATED - timedelta(seconds=1), 61.0, [], None)["queue_s"] is None
