"""Known anomalies put at known places into real series, to measure the detectors.

Sizes are the changes users would want to hear about, stated against the
level of the series (the median of the ``window`` points before the place):
a **spike** of one point 2 to 4 times the level (+100 % to +300 %), a **level
shift** up by 30 % to 100 % from the place to the end, a **drift** ramping up
by 40 % to 100 % over one to two windows and staying there, each at least
``SPIKE_SPREADS``, ``SHIFT_SPREADS`` or ``DRIFT_SPREADS`` robust standard
deviations of those points (a change that the series' own noise swallows is
not one anybody could see); and a **failure burst** of ``burst_window`` runs
each failing with the recent failure rate plus 0.4, put only where that
rate leaves room for the rise (0.55 or less: at most 0.95 after it; a
workflow failing 90 % of the time cannot fail 0.4 more often) and not
right after a burst of the series itself (the ``burst_window`` runs before
failing at least ``burst_min_increase`` more often than those before them:
more failing runs there lengthen that burst, they are not a second one). A spike
also lies 2 to 4 times as far above the level as the series' own reach (its
``tail_quantile`` over the ``tail_window`` points before, minus the level):
on a heavy-tailed series a point at three times the median comes every few
days and is no anomaly. Where the detectors have a floor in the series' unit
(``Tuning.min_change``: ten seconds of a duration or queue time), a spike,
shift or drift is also as many times that floor as its size against normal
is times the bar against normal (a shift of +30 % to +100 % against the bar of
25 %: 1.2 to 4 times the floor): a queue of five seconds that waits two more is
no change anybody wants to hear of. Pure: no I/O; the random generator is given, so a
seed fixes everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import NDArray

from controltower.anomaly.baseline import MAD_TO_SD, Array, spread_floor
from controltower.anomaly.model import Kind
from controltower.anomaly.tuning import Tuning

BURST_RISE, BURST_CEILING = 0.4, 0.95
SPIKE_RELATIVE, SPIKE_SPREADS, SPIKE_TAIL = (1.0, 3.0), 8.0, (2.0, 4.0)
SHIFT_RELATIVE, SHIFT_SPREADS = (0.3, 1.0), 4.0
DRIFT_RELATIVE, DRIFT_SPREADS = (0.4, 1.0), 5.0
BUSY_RISE = (0.3, 1.0)


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


def tail_reach(values: Array, at: int, level: float, tuning: Tuning) -> float:
    """How far above ``level`` the series' own 1-in-100 tail reaches before ``at``."""
    before = values[max(0, at - tuning.tail_window) : at]
    return max(float(np.quantile(before, tuning.tail_quantile)) - level, 0.0)


def _rate(
    cumulative: Array, first: NDArray[np.int_], last: NDArray[np.int_]
) -> NDArray[np.float64]:
    """The failure rate of the runs from ``first`` to ``last`` (excluded), from the cumulative
    failures (``cumulative[i]``: failures before run ``i``); 0 where there are none."""
    runs = np.maximum(last - first, 1)
    share: NDArray[np.float64] = (cumulative[last] - cumulative[first]) / runs
    return share


def burst_places(values: Array, lo: int, hi: int, tuning: Tuning) -> NDArray[np.int_]:
    """The places from ``lo`` to ``hi`` (excluded) where a failure burst fits: the failure rate
    of the ``burst_reference`` outcomes before leaves room for its rise, and the
    ``burst_window`` runs just before are no burst themselves (they fail less than
    ``burst_min_increase`` more often than the ``burst_reference`` before them): failing runs
    right after a burst of the stored series make that burst longer, not a second one."""
    places = np.arange(max(lo, 1), hi)  # from 1: a place needs runs before it
    before = np.concatenate([[0.0], np.cumsum(values, dtype=float)])
    rate = partial(_rate, before)
    recent = np.maximum(0, places - tuning.burst_window)
    reference = np.maximum(0, places - tuning.burst_reference)
    room = rate(reference, places) + BURST_RISE <= BURST_CEILING + 1e-9
    earlier = np.maximum(0, recent - tuning.burst_reference)
    calm = rate(recent, places) - rate(earlier, recent) < tuning.burst_min_increase - 1e-9
    fitting: NDArray[np.int_] = places[room & calm]
    return fitting


def inject(
    kind: Kind, values: Array, at: int, rng: np.random.Generator, tuning: Tuning
) -> tuple[Array, Injected]:
    """A copy of ``values`` with one anomaly of ``kind`` from point ``at``."""
    changed = values.astype(float).copy()
    if kind == "failure_burst":
        reference = values[max(0, at - tuning.burst_reference) : at]
        p = min(BURST_CEILING, float(reference.mean()) + BURST_RISE)
        end = min(len(values), at + tuning.burst_window) - 1
        changed[at : end + 1] = (rng.random(end - at + 1) < p).astype(float)
        return changed, Injected(kind, at, end, p)
    spread = local_spread(values, at, tuning.window)
    level = abs(float(np.median(values[max(0, at - tuning.window) : at])))
    if kind == "spike":
        tail = tail_reach(values, at, level, tuning)
        relative = float(rng.uniform(*SPIKE_RELATIVE))
        size = max(
            relative * level,
            SPIKE_SPREADS * spread,
            float(rng.uniform(*SPIKE_TAIL)) * tail,
            _in_unit(relative, tuning.spike_relative, tuning),
        )
        changed[at] += size
        return changed, Injected(kind, at, at, size)
    if kind == "level_shift":
        relative = float(rng.uniform(*SHIFT_RELATIVE))
        size = max(
            relative * level,
            SHIFT_SPREADS * spread,
            _in_unit(relative, tuning.min_relative, tuning),
        )
        changed[at:] += size
        return changed, Injected(kind, at, at, size)
    relative = float(rng.uniform(*DRIFT_RELATIVE))
    size = max(
        relative * level, DRIFT_SPREADS * spread, _in_unit(relative, tuning.min_relative, tuning)
    )
    length = int(rng.integers(tuning.window, 2 * tuning.window + 1))
    end = min(len(values), at + length) - 1
    ramp = np.linspace(size / length, size, length)[: end - at + 1]
    changed[at : end + 1] += ramp
    changed[end + 1 :] += size
    return changed, Injected("drift", at, end, size)


def _in_unit(relative: float, bar: float, tuning: Tuning) -> float:
    """The size in the series' unit as far above the floor (``min_change``) as ``relative`` is
    above the bar against normal (``bar``, a share of normal): a shift of +30 % against a bar
    of 25 % is at least 1.2 times the floor."""
    return relative / bar * tuning.min_change if bar > 0.0 else relative * tuning.min_change


def busy_rise(values: Array, at: int, rng: np.random.Generator) -> Array:
    """A copy of daily (weekly) totals whose busy points (above zero) from ``at`` on come to 1.3
    to 2 times as much (``BUSY_RISE``), the idle ones staying zero: a workflow whose runs got
    dearer, or that runs more often on the days it runs."""
    changed = values.astype(float).copy()
    changed[at:] *= 1.0 + float(rng.uniform(*BUSY_RISE))
    return changed
