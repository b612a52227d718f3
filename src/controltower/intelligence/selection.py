"""Which predictor serves each figure: the model, or the baseline that beat it.

Read from a version's evaluation report (``evaluation.evaluate``), pooled
over its test runs: failure by F1 (higher wins), duration by median absolute
percentage error (lower wins). The model serves only when it is strictly
better than every baseline; otherwise the best baseline does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

OUTCOME_BASELINES = ("previous", "always_pass")
DURATION_BASELINES = ("median5", "previous")


@dataclass(frozen=True, slots=True)
class LivePredictors:
    """The predictor name serving each figure, and the figures that decided it."""

    failure: str
    duration: str
    failure_f1: dict[str, float | None]
    duration_mdape: dict[str, float | None]


def _best(figures: dict[str, float | None], names: tuple[str, ...], *, low: bool) -> str:
    sign = 1.0 if low else -1.0

    def key(name: str) -> float:
        value = figures.get(name)
        return math.inf if value is None else sign * value

    baseline = min(names, key=key)
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
        failure_f1=f1,
        duration_mdape=mdape,
    )
