"""Why a run is predicted to fail or pass, and what moved its failure probability and its
predicted duration, in words.

The decision comes from the predictor better on F1 and the probability from
the one better on the probability figures (``selection``), so each is told
for its own predictor: the model decides "the previous run failed, or the
probability reaches the threshold", and a failure predicted at a low
probability says it was the previous run; the risk factors explain the
probability shown (the model's contributions, or the previous run's outcome).
The duration model corrects the median of the workflow's last five
successful runs; what moved its median from there is told the same way
(``duration_words``): the inputs that pushed it the way it moved.
"""

from __future__ import annotations

import math

import numpy as np

from controltower.intelligence import registry
from controltower.intelligence.duration import DurationModel
from controltower.intelligence.explain import RiskFactor, phrase, risk_factors
from controltower.intelligence.features import INDEX
from controltower.intelligence.predictors import Matrix


def decision(models: registry.LoadedModels | None, name: str, row: Matrix) -> tuple[bool, str]:
    """Whether predictor ``name`` predicts the run fails, and why, in words."""
    previous = float(row[0, INDEX["base_prev_failed"]])
    if models is not None and name == "model":
        model = models.failure
        predicted = bool(model.predict(row)[0])
        chance, threshold = float(model.predict_proba(row)[0]), model.threshold
        if chance >= threshold:
            return predicted, (
                f"the model's failure probability, {chance:.0%}, reaches its threshold of "
                f"{threshold:.0%}"
            )
        if predicted:
            return predicted, (
                "the previous run failed (failures come in streaks: the model predicts a "
                "failure after one, whatever its probability)"
            )
        return predicted, (
            f"the model's failure probability, {chance:.0%}, is below its threshold of "
            f"{threshold:.0%}"
            + (", and the previous run did not fail" if model.or_previous else "")
        )
    if name == "previous":
        if math.isnan(previous):
            return False, "no earlier run to go by (the previous run's outcome decides)"
        failed = previous >= 0.5
        return failed, f"the previous run {'failed' if failed else 'did not fail'}"
    return False, "the always-pass baseline decides: it did better than the model on F1"


def risk_words(models: registry.LoadedModels | None, name: str, row: Matrix) -> list[str]:
    """What moved the probability of predictor ``name``, in words."""
    if models is not None and name == "model":
        return [f.told for f in risk_factors(row[0], models.failure.contributions(row)[0])]
    if name != "previous":
        return []  # a constant: nothing moves it
    # the previous outcome decides alone: a failure raises the risk, a pass lowers it
    prev = float(row[0, INDEX["base_prev_failed"]])
    effect = 1.0 if prev >= 0.5 else -1.0
    told = RiskFactor("base_prev_failed", prev, effect, phrase("base_prev_failed", prev)).told
    return [] if math.isnan(prev) else [told]


# The duration factors told: the strongest few of those that pushed the median the way it moved,
# each by about 3 % or more.
DURATION_FACTORS, DURATION_MINIMUM = 3, 0.03


def duration_words(model: DurationModel | None, row: Matrix) -> list[str]:
    """What moved the duration model's median away from the median of the workflow's last five
    successful runs, in words, strongest first: "the last 5 successful runs of this trigger
    took 26.1 min (median) (lengthens it)". Only inputs that pushed it the way it moved are
    told (a push against it is one the typical correction outweighed), and none where it did
    not move (the dead zone) or no ``model`` gave the durations (a baseline did). Inputs that
    tell one fact (a duration and its ratio to the median) are told once, their pushes summed.
    """
    if model is None:
        return []
    served, pushes = model.contributions(row)
    way = float(np.sign(served[0]))
    if way == 0.0:
        return []
    summed: dict[str, float] = {}
    for feature, push in zip(model.input_names, pushes[0], strict=True):
        source = feature.removesuffix("_ratio")
        words = phrase(source, float(row[0, INDEX[source]]))
        summed[words] = summed.get(words, 0.0) + float(push)
    moved = sorted((p * way, words) for words, p in summed.items() if p * way >= DURATION_MINIMUM)
    told = "lengthens it" if way > 0 else "shortens it"
    return [f"{words} ({told})" for _, words in reversed(moved[-DURATION_FACTORS:])]
