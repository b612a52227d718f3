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
