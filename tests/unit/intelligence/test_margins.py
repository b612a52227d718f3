"""Margins: the model's difference from the better baseline, with a resampled interval."""

from __future__ import annotations

import numpy as np
import pytest

from controltower.intelligence.margins import (
    Groups,
    better_baseline,
    duration_figures_under,
    margins,
    outcome_figures_under,
)
from controltower.intelligence.metrics import duration_figures, mean_over, outcome_figures


def _outcomes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    failed = rng.random(n) < 0.3
    # scores rounded to a tenth, so that many tie
    probability = np.round(np.clip(0.3 * failed + 0.7 * rng.random(n), 0, 1), 1)
    return failed, probability, probability >= 0.5


def test_under_equal_weights_the_figures_are_the_protocols() -> None:
    """Weights of one on every run give exactly what ``metrics`` computes."""
    failed, probability, predicted = _outcomes(301, seed=3)
    ones = np.ones((2, failed.size), dtype=np.float32)
    every = Groups.one(failed.size)
    expected = outcome_figures(failed, probability, predicted)
    for name, figure in outcome_figures_under(failed, probability, predicted).items():
        assert figure(ones, every)[:, 0] == pytest.approx([expected[name]] * 2)
    rng = np.random.default_rng(4)
    actual = rng.uniform(50, 500, 301)
    predicted_s = np.column_stack([actual * 0.8, actual * rng.uniform(0.6, 1.4, 301), actual])
    predicted_s[7, 1] = np.nan  # a missing prediction counts as an error of 100 %
    expected_d = duration_figures(actual, predicted_s)
    for name, figure in duration_figures_under(actual, predicted_s).items():
        assert figure(ones, every)[:, 0] == pytest.approx([expected_d[name]] * 2)


def test_weights_count_runs_as_often_as_they_weigh() -> None:
    """A run weighted 2 counts as two copies of it; a run weighted 0 as absent."""
    failed, probability, predicted = _outcomes(120, seed=5)
    weights = np.random.default_rng(6).integers(0, 3, size=(1, failed.size)).astype(np.float32)
    copies = np.repeat(np.arange(failed.size), weights[0].astype(int))
    expected = outcome_figures(failed[copies], probability[copies], predicted[copies])
    every = Groups.one(failed.size)
    for name, figure in outcome_figures_under(failed, probability, predicted).items():
        assert figure(weights, every)[0, 0] == pytest.approx(expected[name])


def test_per_group_figures_are_each_groups_own() -> None:
    """Groups given in any order: column k is the figure of the runs of the k-th group."""
    failed, probability, predicted = _outcomes(500, seed=10)
    labels = np.random.default_rng(11).choice([7, 3, 12], size=500).astype(np.int64)
    ones = np.ones((1, 500), dtype=np.float32)
    actual = np.random.default_rng(12).uniform(10, 100, 500)
    median = actual * np.random.default_rng(13).uniform(0.5, 1.5, 500)
    predicted_s = np.column_stack([median, median, median])
    outcome = outcome_figures_under(failed, probability, predicted)
    duration = duration_figures_under(actual, predicted_s)
    for k, label in enumerate((3, 7, 12)):
        sub = labels == label
        expected = outcome_figures(failed[sub], probability[sub], predicted[sub])
        for name, figure in outcome.items():
            assert figure(ones, Groups.of(labels))[0, k] == pytest.approx(expected[name])
        mdape = duration["mdape"](ones, Groups.of(labels))[0, k]
        errors = np.sort(np.abs(median[sub] - actual[sub]) / actual[sub])
        assert mdape == errors[(errors.size - 1) // 2]  # the lower middle for an even count


def _report_points(
    failed: np.ndarray, results: dict[str, tuple[np.ndarray, np.ndarray]], groups: np.ndarray
) -> dict[str, dict[str, dict[str, float | None]]]:
    pooled = {n: outcome_figures(failed, p, d) for n, (p, d) in results.items()}
    per_group = {
        n: [outcome_figures(failed[groups == g], p[groups == g], d[groups == g]) for g in (0, 1)]
        for n, (p, d) in results.items()
    }
    names = ("accuracy", "precision", "recall", "f1", "auc", "brier")
    mean = {n: mean_over(per_group[n], names) for n in results}
    return {"pooled": pooled, "mean_over_repositories": mean}


def test_a_clearly_better_model_has_an_interval_above_zero_and_a_tie_sits_on_zero() -> None:
    """A model that knows every outcome beats a coin: its F1 margin's interval leaves out zero."""
    rng = np.random.default_rng(7)
    failed = rng.random(400) < 0.3
    groups = (np.arange(400) % 2).astype(np.int64)
    coin = rng.random(400)
    results = {
        "model": (np.where(failed, 0.95, 0.05), failed.copy()),
        "previous": (coin, coin >= 0.7),
        "always_pass": (np.zeros(400), np.zeros(400, dtype=bool)),
    }
    figures = {n: outcome_figures_under(failed, p, d) for n, (p, d) in results.items()}
    points = _report_points(failed, results, groups)
    found = margins(figures, points, ("previous", "always_pass"), groups, seed=1, resamples=200)
    for way in ("pooled", "mean_over_repositories"):
        f1 = found[way]["f1"]
        assert f1["against"] == "previous"
        model, base = points[way]["model"]["f1"], points[way]["previous"]["f1"]
        assert model is not None
        assert base is not None
        assert f1["difference"] == pytest.approx(model - base)
        assert 0 < f1["low"] <= f1["difference"] <= f1["high"]
        assert found[way]["brier"]["high"] < 0  # lower is better: the model's is clearly lower

    results["model"] = results["previous"]
    figures = {n: outcome_figures_under(failed, p, d) for n, (p, d) in results.items()}
    points = _report_points(failed, results, groups)
    tied = margins(figures, points, ("previous", "always_pass"), groups, seed=1, resamples=200)
    assert tied["pooled"]["f1"] == {
        "against": "previous",
        "difference": 0.0,
        "low": 0.0,
        "high": 0.0,
    }


def test_the_same_seed_gives_the_same_interval_and_another_seed_another() -> None:
    failed, probability, predicted = _outcomes(300, seed=8)
    rng = np.random.default_rng(9)
    other = rng.random(300)
    results = {"model": (probability, predicted), "previous": (other, other > 0.6)}
    groups = np.zeros(300, dtype=np.int64)
    figures = {n: outcome_figures_under(failed, p, d) for n, (p, d) in results.items()}
    points = _report_points(failed, results, groups % 2)
    first = margins(figures, points, ("previous",), groups, seed=2, resamples=100)
    assert margins(figures, points, ("previous",), groups, seed=2, resamples=100) == first
    assert margins(figures, points, ("previous",), groups, seed=3, resamples=100) != first


def test_the_better_baseline_depends_on_which_way_the_figure_is_better() -> None:
    values = {"previous": 0.2, "median5": 0.1, "broken": None}
    assert better_baseline("mdape", values, ("previous", "median5", "broken")) == "median5"
    assert better_baseline("within_20", values, ("previous", "median5")) == "previous"
    assert better_baseline("f1", {"previous": None}, ("previous",)) is None
