"""How much wider sums of a real series' scores stray than sums of independent ones.

Real series wander: neighbouring z-scores are correlated, and a sum of
correlated scores strays further than one of independent ones, so the
change detectors divide the scores by the long-run inflation of an AR(1)
process, sqrt((1 + r) / (1 - r)), with the lag-one autocorrelation of the
scores before them, before they are summed. Pure: no I/O.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from controltower.anomaly.baseline import Array, row_mads

MAX_AUTOCORRELATION = 0.8
INFLATION_EVERY, INFLATION_SPAN, INFLATION_MIN, INFLATION_FEWEST = 10, 500, 30, 10


def trailing_inflation(z: Array, clip: float = np.inf, lag: int = 0) -> Array:
    """Per point, how much wider sums of the scores before it stray than sums of independent ones.

    The lag-one autocorrelation *r* of an AR(1) process satisfies
    var(z[t] - z[t-1]) = 2 (1 - r) var(z), and its sums stray
    sqrt((1 + r) / (1 - r)) times as wide; both spreads are taken as MADs of
    the scores within ``clip``, so outliers and the few large steps being
    looked for (one large difference each) move it little. It is 1 with
    fewer than ``INFLATION_FEWEST`` such scores.

    The scores are the ``INFLATION_SPAN`` that end ``lag`` points before,
    judged from earlier points only, so that appending points never changes
    how an earlier one was summed; recomputed every ``INFLATION_EVERY`` points.
    Leaving out the last ``lag`` points keeps a change under way (whose
    scores rise together) from inflating the sums that should find it; until
    ``INFLATION_MIN`` scores lie that far back, all earlier scores are used
    (early in a series a change in them is rare, and scores past the clip,
    as those of a sudden step are, count for nothing).
    """
    ats = np.arange(0, len(z), INFLATION_EVERY)
    kept = np.isfinite(z) & (np.abs(z) < clip)
    where = np.flatnonzero(kept)
    scores = z[kept]
    first = np.searchsorted(where, np.maximum(0, ats - lag - INFLATION_SPAN))
    last = np.searchsorted(where, np.maximum(0, ats - lag))
    near = last - first < INFLATION_MIN
    first = np.where(near, np.searchsorted(where, np.maximum(0, ats - INFLATION_SPAN)), first)
    last = np.where(near, np.searchsorted(where, ats), last)
    spread = row_mads(_ranges(scores, first, last))
    steps = row_mads(_ranges(np.diff(scores), first, np.maximum(first, last - 1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(1.0 - (steps / spread) ** 2 / 2.0, 0.0, MAX_AUTOCORRELATION)
    few = (last - first < INFLATION_FEWEST) | ~(spread > 0.0)
    each = np.where(few, 1.0, np.sqrt((1 + r) / (1 - r)))
    return np.repeat(each, INFLATION_EVERY)[: len(z)]


def _ranges(values: Array, first: NDArray[np.int_], last: NDArray[np.int_]) -> Array:
    """One row per range: ``values[first:last]``, padded with ``nan`` to ``INFLATION_SPAN``."""
    index = first[:, None] + np.arange(INFLATION_SPAN)[None, :]
    inside = index < last[:, None]
    padded = np.append(values, np.nan)
    return np.where(inside, padded[np.minimum(index, len(values))], np.nan)
