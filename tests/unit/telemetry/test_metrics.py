"""Metrics: re-runs, outcome rates, percentiles, flaky commits and change against before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controltower.telemetry.metrics import Attempt, Window, by_group, percentile, stats

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _a(
    run: str,
    attempt: int,
    conclusion: str | None,
    duration: float | None = None,
    *,
    sha: str = "s",
    minutes: int = 0,
    group: str = "g",
    queue: float | None = None,
) -> Attempt:
    created = T0 + timedelta(minutes=minutes)
    started = created + timedelta(seconds=queue) if queue is not None else None
    return Attempt(group, run, attempt, conclusion, created, started, duration, sha)


def test_percentiles_interpolate_and_empty_is_none() -> None:
    """p50 of 1..4 is 2.5; p95 interpolates; no values gives None."""
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([], 50) is None


def test_rerun_counts_once_as_a_run_and_its_latest_attempt_decides() -> None:
    """A run that failed then passed on re-run is one passing run with one re-run."""
    result = stats(
        [_a("r1", 1, "failure", 100), _a("r1", 2, "success", 120), _a("r2", 1, "success", 80)]
    )
    assert (result.runs, result.attempts, result.reruns) == (2, 3, 1)
    assert result.success_rate == 1.0
    assert result.failure_rate == 0.0


def test_re_runs_count_from_the_attempt_number_when_earlier_ones_were_never_stored() -> None:
    """GitHub's API lists only a run's latest attempt: attempt 4 alone is still three re-runs."""
    result = stats([_a("r1", 4, "success", 100), _a("r2", 1, "success", 80)])
    assert (result.runs, result.attempts, result.reruns) == (2, 5, 3)


def test_a_re_run_has_no_queue_time_from_the_run_s_creation() -> None:
    """A re-run keeps the run's first created_at: started minus that is no wait for a runner."""
    days_later = 3 * 86400.0
    result = stats(
        [_a("r1", 1, "success", 100, queue=5.0), _a("r1", 2, "success", 90, queue=days_later)]
    )
    assert (result.queue_p50, result.queue_p95) == (5.0, 5.0)


def test_durations_count_each_successful_attempt_once() -> None:
    """Only successful attempts give durations, failed attempts' durations are left out."""
    result = stats(
        [_a("r1", 1, "failure", 10), _a("r1", 2, "success", 100), _a("r2", 1, "success", 200)]
    )
    assert result.duration_p50 == 150.0


def test_cancelled_runs_count_in_neither_rate() -> None:
    """Rates are shares of completed runs; cancelled counts in neither numerator."""
    result = stats(
        [
            _a("r1", 1, "success"),
            _a("r2", 1, "failure"),
            _a("r3", 1, "cancelled"),
            _a("r4", 1, "timed_out"),
        ]
    )
    assert result.success_rate == 0.25
    assert result.failure_rate == 0.5


def test_queue_time_is_requested_to_started() -> None:
    """Queue percentiles come from created→started where both are known."""
    result = stats(
        [_a("r1", 1, "success", queue=10), _a("r2", 1, "success", queue=30), _a("r3", 1, "success")]
    )
    assert result.queue_p50 == 20.0


def test_failed_then_passed_on_the_same_commit_is_flaky() -> None:
    """A commit that failed then passed counts once; passed-then-failed does not."""
    attempts = [
        _a("r1", 1, "failure", sha="a", minutes=0),
        _a("r2", 1, "success", sha="a", minutes=5),
        _a("r3", 1, "success", sha="b", minutes=0),
        _a("r4", 1, "failure", sha="b", minutes=5),
        _a("r5", 1, "failure", sha="c", minutes=0),
        _a("r5", 2, "success", sha="c", minutes=0),
    ]
    assert stats(attempts).flaky_commits == 2


def test_change_is_against_the_previous_window_of_the_same_length() -> None:
    """The previous window ends where this one starts; changes are current minus previous."""
    window = Window(T0, T0 + timedelta(days=7))
    assert window.previous() == Window(T0 - timedelta(days=7), T0)
    now = [_a("r1", 1, "success", group="x"), _a("r2", 1, "failure", group="x")]
    before = [_a("p1", 1, "success", group="x"), _a("p2", 1, "success", group="x")]
    (group,) = by_group(now, before)
    assert group.change["success_rate"] == -0.5
    assert group.change["runs"] == 0


def test_a_group_new_in_this_window_has_no_change() -> None:
    """Without a previous window, changes are None rather than invented."""
    (group,) = by_group([_a("r1", 1, "success", group="new")], [])
    assert group.previous is None
    assert group.change["success_rate"] is None
