"""Calibrated job duration intervals: split-conformal bounds on log-ratio residuals.

A job's residual is how a successful duration compared with the p50 that its
earlier durations gave (the median of the last five): ``log((d + 1) /
(p50 + 1))`` (one second added so zero-second jobs are defined). The
residuals a job had before a request are its calibration set: with ``n`` of
them, sorted, the central ``COVERAGE`` interval runs from the
``floor(a (n + 1))``-th to the ``ceil((1 - a) (n + 1))``-th (``a`` the tail on
each side), which covers the next residual with probability at least
``COVERAGE`` when residuals are exchangeable (split conformal prediction). A job
with too few residuals for those ranks (under ``MIN_RESIDUALS`` at 80%) takes
the pooled residuals of its workflow's jobs; with too few of those, no
interval. The bounds always contain p50. Nothing is tuned: the ranks follow
from the coverage and the sample size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

COVERAGE = 0.8
MIN_RESIDUALS = 9


def median_of_five(durations: Sequence[float]) -> float | None:
    """The median of the last five durations (None: none)."""
    last = sorted(durations[-5:])
    n = len(last)
    if n == 0:
        return None
    return last[n // 2] if n % 2 else (last[n // 2 - 1] + last[n // 2]) / 2


def log_residual(duration: float, before: Sequence[float]) -> float | None:
    """How ``duration`` compared with the p50 of the durations ``before`` it (None: none)."""
    p50 = median_of_five(before)
    return None if p50 is None else math.log((duration + 1.0) / (p50 + 1.0))


def conformal_bounds(
    residuals: Sequence[float], coverage: float = COVERAGE
) -> tuple[float, float] | None:
    """The conformal lower and upper residual for ``coverage`` (None: too few residuals)."""
    n = len(residuals)
    tail = (1.0 - coverage) / 2
    low_rank = math.floor(tail * (n + 1) + 1e-9)
    high_rank = math.ceil((1.0 - tail) * (n + 1) - 1e-9)
    if low_rank < 1 or high_rank > n:
        return None
    ordered = sorted(residuals)
    return ordered[low_rank - 1], ordered[high_rank - 1]


def interval(
    p50: float, own: Sequence[float], pooled: Sequence[float]
) -> tuple[float, float] | None:
    """p10 and p90 around ``p50`` from the job's residuals, else its workflow's pooled ones."""
    bounds = conformal_bounds(own) or conformal_bounds(pooled)
    if bounds is None:
        return None
    low, high = min(bounds[0], 0.0), max(bounds[1], 0.0)
    return max((p50 + 1.0) * math.exp(low) - 1.0, 0.0), (p50 + 1.0) * math.exp(high) - 1.0
