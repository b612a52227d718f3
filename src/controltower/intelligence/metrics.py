"""The figures of the evaluation protocol, as plain numbers (``None`` when not computable).

Outcome, failure the positive class: accuracy, precision, recall, F1, ROC AUC
(ties count half) and Brier score. Duration: median absolute percentage
error, shares within ±20% and ±50%, and the share of actual durations inside
the 80% interval. A missing duration prediction counts as an error of 100%.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

Figures = dict[str, float | None]
OUTCOME_FIGURES = ("accuracy", "precision", "recall", "f1", "auc", "brier")
DURATION_FIGURES = ("mdape", "within_20", "within_50", "coverage_80")


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def roc_auc(failed: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64]) -> float | None:
    """Probability that a failed run scores above a passed one; None without both classes."""
    positives = int(failed.sum())
    negatives = len(failed) - positives
    if positives == 0 or negatives == 0:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0
    ranks = average_rank[inverse]
    return float((ranks[failed].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def outcome_figures(
    failed: npt.NDArray[np.bool_],
    probability: npt.NDArray[np.float64],
    predicted: npt.NDArray[np.bool_],
) -> Figures:
    """Outcome figures of one predictor on the runs given."""
    if len(failed) == 0:
        return dict.fromkeys(OUTCOME_FIGURES)
    tp = int((predicted & failed).sum())
    fp = int((predicted & ~failed).sum())
    fn = int((~predicted & failed).sum())
    return {
        "accuracy": float((predicted == failed).mean()),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "auc": roc_auc(failed, probability),
        "brier": float(np.mean((probability - failed) ** 2)),
    }


def duration_figures(
    actual: npt.NDArray[np.float64], predicted: npt.NDArray[np.float64]
) -> Figures:
    """Duration figures from actual seconds and (n, 3) predicted p10, p50, p90."""
    if len(actual) == 0:
        return dict.fromkeys(DURATION_FIGURES)
    median = predicted[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.abs(median - actual) / np.maximum(actual, 1.0)
    error = np.where(np.isnan(median), 1.0, error)
    low, high = predicted[:, 0], predicted[:, 2]
    has_interval = ~(np.isnan(low) | np.isnan(high))
    coverage = None
    if has_interval.any():
        inside = (low <= actual) & (actual <= high) & has_interval
        coverage = float(inside.mean())
    return {
        "mdape": float(np.median(error)),
        "within_20": float((error <= 0.2).mean()),
        "within_50": float((error <= 0.5).mean()),
        "coverage_80": coverage,
    }


def mean_over(groups: Sequence[Mapping[str, float | None]], names: Sequence[str]) -> Figures:
    """Unweighted mean of each figure over the groups where it could be computed."""
    out: Figures = {}
    for name in names:
        values = [g[name] for g in groups if g.get(name) is not None]
        out[name] = math.fsum(v for v in values if v is not None) / len(values) if values else None
    return out
