"""A second step among the points a level shift settles on.

Soon after a first step, a second (further on, or back) would be half
absorbed into the level the first moved to; it is looked for among those
points by the best split into two levels. Pure: no I/O.
"""

from __future__ import annotations

import numpy as np

from controltower.anomaly.baseline import MAD_TO_SD, Array, Baseline
from controltower.anomaly.tuning import Tuning

# A second step among the points a shift settles on: its levels this many spreads apart.
STEP_SPREADS = 4.0
# ... and the two levels fit with at most this share of a straight line's squared error.
STEP_OVER_LINE = 0.5


def fewest_settled(tuning: Tuning) -> int:
    """The fewest points after a shift's alarm its settled level is taken from."""
    return max(2, min(tuning.further_after, tuning.min_history // 2))


def before_second_step(values: Array, baseline: Baseline, tuning: Tuning, alarm: int) -> int | None:
    """Where a second step begins among the points a shift alarmed at ``alarm`` settles on
    (None: none, or not looked for).

    The first change is then judged on the points before it (two steps are
    no ramp), and the second summed from it as a further change.
    """
    if not (tuning.further and tuning.further_second_step):
        return None
    end = min(len(values), alarm + 1 + tuning.further_after)
    kept = points_before_step(values, baseline, tuning, alarm, end)
    return alarm + 1 + kept if kept is not None and kept < end - alarm - 1 else None


def points_before_step(
    values: Array, baseline: Baseline, tuning: Tuning, alarm: int, end: int
) -> int | None:
    """How many of the points after ``alarm``, up to ``end``, precede a second step among them
    (all of them: none; None: too few, not all known, or no spread known before the alarm)."""
    settled = values[alarm + 1 : end] - baseline.profile[alarm + 1 : end]
    before = baseline.scale[max(0, alarm - tuning.window) : alarm + 1]
    fewest = fewest_settled(tuning)
    if settled.size < fewest or not np.isfinite(settled).all() or not np.isfinite(before).any():
        return None
    return second_step(settled, fewest // 2, float(np.nanmin(before)))


def second_step(settled: Array, shortest: int, spread: float) -> int:
    """How many of the ``settled`` points precede a second step among them (all: none).

    The best split into two levels (least squares), each of at least
    ``shortest`` points, is a step when the levels (their medians) differ by
    ``STEP_SPREADS`` of the larger of their pooled spread and ``spread``,
    and the two fit with at most ``STEP_OVER_LINE`` of a straight line's
    squared error (points still rising, a drift going on, are no second
    step): a further change that began before the level could settle, which
    the level of all the points would half absorb.
    """
    n = settled.size
    splits = np.arange(shortest, n - shortest + 1)
    if splits.size == 0:
        return n
    sums, squares = np.cumsum(settled), np.cumsum(settled * settled)
    left = squares[splits - 1] - sums[splits - 1] ** 2 / splits
    right_sums = sums[-1] - sums[splits - 1]
    right = squares[-1] - squares[splits - 1] - right_sums**2 / (n - splits)
    errors = left + right  # each side's squared error about its mean
    best, at = float(np.min(errors)), int(splits[np.argmin(errors)])
    first, second = settled[:at], settled[at:]
    within = MAD_TO_SD * float(
        np.median(np.abs(np.concatenate([first - np.median(first), second - np.median(second)])))
    )
    gap = abs(float(np.median(second) - np.median(first)))
    t = np.arange(n, dtype=float) - (n - 1) / 2
    centred = settled - float(np.mean(settled))
    line = float(centred @ centred - (t @ centred) ** 2 / (t @ t))  # a straight line's error
    stepped = best <= STEP_OVER_LINE * line
    return at if stepped and gap >= STEP_SPREADS * max(within, spread) else n
