"""The live predictor of each figure: the model only when it beats every baseline."""

from __future__ import annotations

from typing import Any

import pytest

from controltower.intelligence.selection import live_predictors


def _report(f1: dict[str, float | None], mdape: dict[str, float | None]) -> dict[str, Any]:
    return {
        "outcome": {"pooled": {name: {"f1": v} for name, v in f1.items()}},
        "duration": {"pooled": {name: {"mdape": v} for name, v in mdape.items()}},
    }


@pytest.mark.parametrize(
    ("f1", "failure"),
    [
        ({"model": 0.7, "previous": 0.6, "always_pass": 0.0}, "model"),
        ({"model": 0.6, "previous": 0.6, "always_pass": 0.0}, "previous"),
        ({"model": None, "previous": 0.4, "always_pass": 0.0}, "previous"),
        ({"model": 0.1, "previous": None, "always_pass": 0.0}, "model"),
    ],
)
def test_failure_is_served_by_the_best_f1(f1: dict[str, float | None], failure: str) -> None:
    """Higher F1 wins; a tie or a missing model figure leaves the baseline live."""
    live = live_predictors(_report(f1, {"model": 0.1, "previous": 0.2, "median5": 0.3}))
    assert live.failure == failure


@pytest.mark.parametrize(
    ("mdape", "duration"),
    [
        ({"model": 0.1, "previous": 0.2, "median5": 0.15}, "model"),
        ({"model": 0.2, "previous": 0.3, "median5": 0.15}, "median5"),
        ({"model": 0.2, "previous": 0.1, "median5": 0.15}, "previous"),
    ],
)
def test_duration_is_served_by_the_lowest_error(
    mdape: dict[str, float | None], duration: str
) -> None:
    """Lower median absolute percentage error wins."""
    live = live_predictors(_report({"model": 0.5, "previous": 0.4, "always_pass": 0.0}, mdape))
    assert live.duration == duration


@pytest.mark.parametrize(
    ("figures", "probability"),
    [
        ({"model": (0.11, 0.8), "previous": (0.2, 0.7), "always_pass": (0.13, 0.5)}, "model"),
        ({"model": (0.14, 0.8), "previous": (0.2, 0.7), "always_pass": (0.13, 0.5)}, "always_pass"),
        ({"model": (0.13, 0.8), "previous": (0.2, 0.7), "always_pass": (0.13, 0.5)}, "model"),
        (
            {"model": (None, None), "previous": (0.2, 0.7), "always_pass": (0.13, 0.5)},
            "always_pass",
        ),
    ],
)
def test_the_probability_is_served_by_the_best_brier_whoever_wins_f1(
    figures: dict[str, tuple[float | None, float | None]], probability: str
) -> None:
    """The previous run wins F1, yet the probability comes from the lowest Brier score (a tie
    broken by ROC AUC): the decision and the probability are chosen apart."""
    report = _report(
        {"model": 0.5, "previous": 0.52, "always_pass": 0.0},
        {"model": 0.1, "previous": 0.2, "median5": 0.3},
    )
    for name, (brier, auc) in figures.items():
        report["outcome"]["pooled"][name].update(brier=brier, auc=auc)
    live = live_predictors(report)
    assert (live.failure, live.probability) == ("previous", probability)
