"""Risk factors: the strongest contributions, phrased from the feature's value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controltower.intelligence.explain import phrase, risk_factors
from controltower.intelligence.features import FEATURES, INDEX
from controltower.intelligence.models import FailureModel
from controltower.intelligence.predictors import Labelled


@pytest.mark.parametrize(
    ("feature", "value", "words"),
    [
        ("wb_fails_last5", 3.0, "failed 3 of the last 5 runs"),
        ("lines_changed", 1200.0, "large change: 1,200 lines"),
        ("lines_changed", 12.0, "small change: 12 lines"),
        ("sha_prev_failed", 1.0, "this commit already failed once"),
        ("files_changed", math.nan, "files changed unknown"),
    ],
)
def test_phrases_say_what_the_value_means(feature: str, value: float, words: str) -> None:
    """Each feature's value reads as a short phrase."""
    assert phrase(feature, value) == words


def test_the_strongest_pushes_come_first_and_weak_ones_are_left_out() -> None:
    """Ordered by absolute effect; effects below the minimum are dropped."""
    row = np.zeros(len(FEATURES))
    row[INDEX["wb_fails_last5"]], row[INDEX["lines_changed"]] = 3.0, 1200.0
    contributions = np.zeros(len(FEATURES) + 1)
    contributions[INDEX["wb_fails_last5"]] = 0.4
    contributions[INDEX["lines_changed"]] = 0.9
    contributions[INDEX["hour"]] = 0.01
    factors = risk_factors(row, contributions)
    assert [f.phrase for f in factors] == [
        "large change: 1,200 lines",
        "failed 3 of the last 5 runs",
    ]


def test_a_trained_model_explains_with_its_contributions() -> None:
    """The model's ``pred_contrib`` gives one effect per feature plus the expected value."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(400, len(FEATURES)))
    targets = (rows[:, INDEX["wb_fails_last5"]] > 0.5).astype(float)
    model = FailureModel(rounds=20)
    model.fit(Labelled(rows[:300], targets[:300]), Labelled(rows[300:], targets[300:]))
    contributions = model.contributions(rows[:1])
    assert contributions.shape == (1, len(FEATURES) + 1)
    assert risk_factors(rows[0], contributions[0])[0].feature == "wb_fails_last5"
