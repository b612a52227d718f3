"""How a completed run compared with its stored prediction."""

from __future__ import annotations

from typing import Any

from controltower.intelligence.serving import compare

STORED: dict[str, Any] = {
    "duration_p10": 100.0,
    "duration_p50": 150.0,
    "duration_p90": 200.0,
    "failure_predicted": False,
}


def test_a_pending_run_is_not_scored() -> None:
    """Nothing is compared before the run completes."""
    shown = compare(STORED, "in_progress", None, None)
    assert not shown.completed
    assert shown.within_interval is None
    assert shown.outcome_as_predicted is None


def test_a_passed_run_inside_the_interval() -> None:
    """Duration inside p10..p90, outcome as predicted, signed error of the median."""
    shown = compare(STORED, "completed", "success", 120.0)
    assert shown.within_interval is True
    assert shown.outcome_as_predicted is True
    assert shown.duration_error == 0.25


def test_a_failed_run_is_scored_on_outcome_only() -> None:
    """A failure was not predicted; its duration is not scored."""
    shown = compare(STORED, "completed", "failure", 500.0)
    assert shown.outcome_as_predicted is False
    assert shown.within_interval is None
    assert shown.duration_error is None
