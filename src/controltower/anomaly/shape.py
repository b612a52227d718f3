"""Step or ramp: whether a lasting change is a level shift or a drift, by its shape.

Two least-squares fits of what followed the change: a step (a **level
shift**) and a ramp of at least half a window that rises to a plateau (a
**drift**); it is a drift when the ramp saves a given number of points'
worth of the step's error, or fits better while the series still moves its
way after the alarm. Pure: no I/O.
"""

from __future__ import annotations

import numpy as np

from controltower.anomaly.baseline import Array
from controltower.anomaly.model import Kind
from controltower.anomaly.tuning import Tuning

# The shape test's defaults, from the tuning's: the running median's width, and how many points'
# worth of a step's mean squared error a ramp must save to be a drift by its shape alone.
SMOOTH, EVIDENCE = Tuning().smooth, Tuning().drift_evidence
# A change is still under way when the points after its alarm move this share of it its way.
STILL_MOVING = 0.05


def classify_change(
    residual: Array,
    min_ramp: int,
    alarm_at: int,
    *,
    evidence: float = EVIDENCE,
    smooth: int = SMOOTH,
) -> Kind:
    """``drift`` when a ramp fits a change better than a step, and clearly so or while it goes on.

    The shape: the residual is smoothed by a running median of ``smooth``
    points (so single outliers of a heavy-tailed series do not decide) and
    fitted, least squares with the best size, by a step and by a ramp to a
    plateau, both beginning anywhere but in the last points (where the change
    began is only estimated), the ramp of at least ``min_ramp`` points and
    free to run on past the stretch (a drift noticed early has not levelled
    off yet). A rise quicker than ``min_ramp`` points is a step as the
    detectors see it, and a ramp allowed to be that short copies a step and
    wins on noise alone wherever the series wandered before. A ramp that
    saves at least ``evidence`` points' worth of the step's mean squared
    error (the step's error over the stretch's length) is a drift: how much
    better the ramp must fit does not grow with the stretch, most of which
    is flat before and after the change. One that fits only somewhat better
    is a drift when the series still moves the change's way after the alarm
    (point ``alarm_at`` of the residual, ``still_moving``): after a step it
    is flat, however it wandered before.
    """
    raw = np.asarray(residual, dtype=float)
    r = running_median(raw, smooth)
    n = len(r)
    if n < 6:
        return "level_shift"
    t = np.arange(n, dtype=float)
    steps = (t[None, :] >= np.arange(0, n - 3, dtype=float)[:, None]).astype(float)
    stride = 1 + n // 60  # ramps: from every point on short stretches, every few on long ones
    shortest = max(3, min_ramp)
    begins = np.arange(0, n - 3, stride, dtype=float)
    lengths = np.arange(shortest, shortest + 2 * n + 1, stride, dtype=float)
    ramps = np.clip(
        (t[None, None, :] - begins[:, None, None] + 1) / lengths[None, :, None], 0.0, 1.0
    ).reshape(-1, n)
    step_error = _best_error(steps, r)
    ramp_error = _best_error(ramps, r)
    if ramp_error >= step_error:
        return "level_shift"
    clear = step_error - ramp_error >= evidence * step_error / n
    return "drift" if clear or still_moving(raw, alarm_at) else "level_shift"


def still_moving(residual: Array, alarm_at: int) -> bool:
    """Whether the points from ``alarm_at`` on rise (or fall) by ``STILL_MOVING`` of the change.

    The change is the median of the last ``SMOOTH`` * 2 points; the motion
    the Theil-Sen slope (the median of the slopes between every two points,
    which outliers do not tilt) times the number of points.
    """
    after = residual[max(0, alarm_at) :]
    change = float(np.median(residual[-2 * SMOOTH :]))
    if after.size < SMOOTH or change == 0.0:
        return False
    i, j = np.triu_indices(after.size, 1)
    slope = float(np.median((after[j] - after[i]) / (j - i)))
    return bool(slope * after.size * np.sign(change) >= STILL_MOVING * abs(change))


def running_median(values: Array, width: int) -> Array:
    """Each point replaced by the median of the ``width`` points around it (fewer at the ends)."""
    half = width // 2
    padded = np.pad(values, half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)[: len(values)]


def _best_error(shapes: Array, r: Array) -> float:
    """The least squared error of ``r`` against any of ``shapes`` times its best factor."""
    weight = np.sum(shapes * shapes, axis=1)
    factor = np.where(weight > 0, (shapes @ r) / np.where(weight > 0, weight, 1.0), 0.0)
    errors = np.sum((r[None, :] - factor[:, None] * shapes) ** 2, axis=1)
    return float(np.min(errors))
