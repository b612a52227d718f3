"""Which predictor serves each figure: the model, or the baseline that beat it.

Read from a version's evaluation report (``evaluation.evaluate``), pooled
over its test runs: the failure decision (pass or fail) by F1 (higher wins),
the failure probability by Brier score (lower wins; ROC AUC, higher wins,
breaks a tie), duration by median absolute percentage error (lower wins).
The model serves only when it is strictly better than every baseline;
otherwise the best baseline does. The probability and the decision may come
from different predictors: F1 judges a yes or no, and a baseline can win it
on a difference within the evaluation's resampling interval while its 0 or
1 is no probability at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

OUTCOME_BASELINES = ("previous", "always_pass")
DURATION_BASELINES = ("median5", "previous")
# What each predictor is, in words, where a page or a message names it.
PREDICTOR_WORDS = {
    "model": "model",
    "previous": "previous run",
    "always_pass": "always pass",
    "median5": "median of last 5",
    "median5_interval": "median of last 5",
    "history_rate": "job's past failure rate",
    "baselines": "baselines",
}


@dataclass(frozen=True, slots=True)
class LivePredictors:
    """The predictor name serving each figure, and the figures that decided it."""

    failure: str
    duration: str
    probability: str
    failure_f1: dict[str, float | None]
    duration_mdape: dict[str, float | None]


def _best(figures: dict[str, float | None], names: tuple[str, ...], *, low: bool) -> str:
    sign = 1.0 if low else -1.0

    def key(name: str) -> float:
        value = figures.get(name)
        return math.inf if value is None else sign * value

    baseline = min(names, key=key)
    return "model" if key("model") < key(baseline) else baseline


def _best_probability(outcome: dict[str, dict[str, float | None]]) -> str:
    """The predictor of the failure probability: lowest Brier score, then highest ROC AUC."""

    def key(name: str) -> tuple[float, float]:
        figures = outcome.get(name, {})
        brier, auc = figures.get("brier"), figures.get("auc")
        return (math.inf if brier is None else brier, math.inf if auc is None else -auc)

    baseline = min(OUTCOME_BASELINES, key=key)
    return "model" if key("model") < key(baseline) else baseline


def live_predictors(report: dict[str, Any]) -> LivePredictors:
    """The live predictor of each figure according to ``report``."""
    outcome = report["outcome"]["pooled"]
    duration = report["duration"]["pooled"]
    f1 = {name: figures.get("f1") for name, figures in outcome.items()}
    mdape = {name: figures.get("mdape") for name, figures in duration.items()}
    return LivePredictors(
        failure=_best(f1, OUTCOME_BASELINES, low=False),
        duration=_best(mdape, DURATION_BASELINES, low=True),
        probability=_best_probability(outcome),
        failure_f1=f1,
        duration_mdape=mdape,
    )
