"""Known anomalies put at known places into real series, to measure the detectors.

Sizes are stated against the series itself, in robust standard deviations
(``baseline.spread_floor`` keeps them from vanishing on flat series) of the
``window`` points before the place: a **spike** of 8 to 12 on one point, a
**level shift** of 3 to 5 from the place to the end, a **drift** ramping to 4 to 6
over one to two windows and staying there, and a **failure burst** of
``burst_window`` runs each failing with the recent failure rate plus 0.4
(at most 0.95). Pure: no I/O; the random generator is given, so a seed
fixes everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controltower.anomaly.baseline import MAD_TO_SD, Array, spread_floor
from controltower.anomaly.model import Kind
from controltower.anomaly.tuning import Tuning

BURST_RISE = 0.4


@dataclass(frozen=True, slots=True)
class Injected:
    """Where an anomaly was put: points ``start`` to ``end`` (inclusive) are changed by it."""

    kind: Kind
    start: int
    end: int
    size: float


def local_spread(values: Array, at: int, window: int) -> float:
    """Robust standard deviation of the ``window`` points before ``at``."""
    before = values[max(0, at - window) : at]
    mad = MAD_TO_SD * float(np.median(np.abs(before - np.median(before))))
    return max(mad, spread_floor(values))


def inject(
    kind: Kind, values: Array, at: int, rng: np.random.Generator, tuning: Tuning
) -> tuple[Array, Injected]:
    """A copy of ``values`` with one anomaly of ``kind`` from point ``at``."""
    changed = values.astype(float).copy()
    if kind == "failure_burst":
        reference = values[max(0, at - tuning.burst_reference) : at]
        p = min(0.95, float(reference.mean()) + BURST_RISE)
        end = min(len(values), at + tuning.burst_window) - 1
        changed[at : end + 1] = (rng.random(end - at + 1) < p).astype(float)
        return changed, Injected(kind, at, end, p)
    spread = local_spread(values, at, tuning.window)
    if kind == "spike":
        size = float(rng.uniform(8, 12)) * spread
        changed[at] += size
        return changed, Injected(kind, at, at, size)
    if kind == "level_shift":
        size = float(rng.uniform(3, 5)) * spread
        changed[at:] += size
        return changed, Injected(kind, at, at, size)
    size = float(rng.uniform(4, 6)) * spread
    length = int(rng.integers(tuning.window, 2 * tuning.window + 1))
    end = min(len(values), at + length) - 1
    ramp = np.linspace(size / length, size, length)[: end - at + 1]
    changed[at : end + 1] += ramp
    changed[end + 1 :] += size
    return changed, Injected("drift", at, end, size)
