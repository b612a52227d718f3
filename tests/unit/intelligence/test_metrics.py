"""Evaluation figures: definitions, edge cases and ``None`` where not computable."""

from __future__ import annotations

import numpy as np
import pytest

from controltower.intelligence.metrics import duration_figures, mean_over, outcome_figures, roc_auc


def test_outcome_figures_count_failure_as_the_positive_class() -> None:
    """Two failures, one caught, one false alarm: precision, recall and F1 of one half."""
    failed = np.array([True, True, False, False])
    predicted = np.array([True, False, True, False])
    figures = outcome_figures(failed, predicted.astype(float), predicted)
    assert figures["accuracy"] == 0.5
    assert figures["precision"] == figures["recall"] == figures["f1"] == 0.5
    assert figures["brier"] == 0.5


def test_never_predicting_failure_has_no_precision_and_zero_f1() -> None:
    """Always pass: precision undefined (None), recall and F1 zero, AUC a coin toss."""
    failed = np.array([True, False, False])
    figures = outcome_figures(failed, np.zeros(3), np.zeros(3, dtype=bool))
    assert figures["precision"] is None
    assert figures["f1"] == 0.0
    assert figures["auc"] == 0.5


@pytest.mark.parametrize(
    ("scores", "expected"),
    [([0.9, 0.8, 0.1, 0.2], 1.0), ([0.1, 0.2, 0.9, 0.8], 0.0), ([0.5, 0.5, 0.5, 0.5], 0.5)],
)
def test_auc_ranks_failures_above_passes(scores: list[float], expected: float) -> None:
    """AUC is the share of (failure, pass) pairs ordered right, ties half."""
    failed = np.array([True, True, False, False])
    assert roc_auc(failed, np.array(scores)) == expected


def test_auc_needs_both_classes() -> None:
    """Only failures: AUC cannot be computed."""
    assert roc_auc(np.array([True, True]), np.array([0.1, 0.2])) is None


def test_duration_figures_and_a_missing_prediction_counting_as_a_full_miss() -> None:
    """Errors of 10%, 40% and a missing prediction; one of the two intervals holds."""
    actual = np.array([100.0, 100.0, 100.0])
    predicted = np.array([[90, 110, 120], [120, 140, 150], [np.nan, np.nan, np.nan]], dtype=float)
    figures = duration_figures(actual, predicted)
    assert figures["mdape"] == pytest.approx(0.4)
    assert figures["within_20"] == pytest.approx(1 / 3)
    assert figures["within_50"] == pytest.approx(2 / 3)
    assert figures["coverage_80"] == pytest.approx(1 / 3)


def test_no_interval_gives_no_coverage_and_no_runs_no_figures() -> None:
    """A baseline without an interval has coverage None; an empty test set all None."""
    figures = duration_figures(np.array([10.0]), np.array([[np.nan, 10.0, np.nan]]))
    assert figures["coverage_80"] is None
    assert set(duration_figures(np.array([]), np.empty((0, 3))).values()) == {None}


def test_mean_over_repositories_skips_figures_that_are_none() -> None:
    """The unweighted mean over repositories uses those where the figure exists."""
    groups: list[dict[str, float | None]] = [{"f1": 0.5, "auc": None}, {"f1": 1.0, "auc": 0.7}]
    assert mean_over(groups, ["f1", "auc", "brier"]) == {"f1": 0.75, "auc": 0.7, "brier": None}
