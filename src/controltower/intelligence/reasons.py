"""Why a run is predicted to fail or pass, and what moved its failure probability, in words.

The decision comes from the predictor better on F1 and the probability from
the one better on the probability figures (``selection``), so each is told
for its own predictor: the model decides "the previous run failed, or the
probability reaches the threshold", and a failure predicted at a low
probability says it was the previous run; the risk factors explain the
probability shown (the model's contributions, or the previous run's outcome).
"""

from __future__ import annotations

import math

from controltower.intelligence import registry
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
