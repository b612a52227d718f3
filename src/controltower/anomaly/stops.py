"""Stops: a series that is seldom zero falls to zero and stays there.

A workflow that stopped running, a repository nobody builds any more, a
service that gets no requests: the runs, the cost or the count per day fall
to nothing. The change detector sums that fall in spreads, and where the
level is a few runs a day the spread is about the level, so it takes weeks
to add up (or never does, when most of the points after are zero and the
baseline follows them). A run of zeros is judged here by its length
instead: where the ``window`` points before it were zero at a share *p*
(Laplace's rule, as for failure bursts, so that a history without any zero
does not make one zero a stop), a run that has begun goes on for *k* - 1
more zeros by chance with probability p^(k-1) (the first is given:
a series with a zero in every few points starts many runs). The run is a
stop once that falls below ``stop_alpha`` and it is longer than every run
of zeros in the
``tail_window`` points before (the weekends of a workflow built on working
days, a holiday the series already had). It is told once, at the zero that
made it improbable, as a level shift to zero that began at the run's first
zero (``details["zeros"]``: how many in a row then), with severity
``warning`` whatever its size: nothing happening may be an outage or a
holiday, which the series cannot tell apart, and a holiday should not page
anyone. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from controltower.anomaly.baseline import Array, Baseline
from controltower.anomaly.model import LASTING, Anomaly, Severity
from controltower.anomaly.tuning import Tuning

STOP_SEVERITY: Severity = "warning"


def zero_runs(values: Array) -> list[tuple[int, int]]:
    """Each run of zeros as (first, last) indices, inclusive, oldest first."""
    zero = np.concatenate([[False], values == 0.0, [False]])
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def zeros_needed(share: float, longest_before: int, alpha: float) -> int:
    """How many zeros in a row make a stop, where a share ``share`` of points were zero before
    and the longest run of zeros was ``longest_before``: the first and as many more as make
    the chance of the rest below ``alpha``."""
    by_chance = 1 + math.ceil(math.log(alpha) / math.log(share))
    return max(by_chance, longest_before + 1)


def detect_stops(
    timestamps: Sequence[datetime], values: Array, baseline: Baseline, tuning: Tuning
) -> list[Anomaly]:
    """Runs of zeros too long for the series' history: level shifts to zero (``values`` >= 0)."""
    found: list[Anomaly] = []
    runs = zero_runs(values)
    oldest = 0  # the first run that still ends within the tail window
    for position, (first, last) in enumerate(runs):
        before = values[max(0, first - tuning.window) : first]
        before = before[np.isfinite(before)]
        level = float(baseline.center[first] - baseline.profile[first])
        if before.size < tuning.min_history or not level > 0.0:
            continue
        share = (float(np.sum(before == 0.0)) + 1.0) / (before.size + 2.0)
        reach = first - tuning.tail_window
        while runs[oldest][1] < reach:
            oldest += 1
        longest = max((b - max(a, reach) + 1 for a, b in runs[oldest:position]), default=0)
        needed = zeros_needed(share, longest, tuning.stop_alpha)
        if last - first + 1 < needed:
            continue
        alarm = first + needed - 1
        found.append(
            Anomaly(
                kind="level_shift",
                severity=STOP_SEVERITY,
                start=timestamps[first],
                timestamp=timestamps[alarm],
                expected=level,
                observed=0.0,
                score=level / float(baseline.scale[first]),
                index=alarm,
                details={"stopped": True, "zeros": needed, "zero_share_before": round(share, 4)},
            )
        )
    return found


def with_stops(found: Sequence[Anomaly], stops: Sequence[Anomaly], values: Array) -> list[Anomaly]:
    """``found`` and ``stops`` together, each drop told once.

    A fall (a level shift or drift down) alarmed within a stop's run of
    zeros is the same drop: before the stop's alarm, the change detector
    told it first and the stop is left out; after it, the fall is, however
    late the detector added it up.
    """
    falls = [a for a in found if a.kind in LASTING and a.change < 0]
    kept_stops, later = [], []
    for stop in stops:
        first = stop.index - int(stop.details["zeros"]) + 1
        resumed = np.flatnonzero(values[stop.index :] != 0.0)
        last = stop.index + int(resumed[0]) - 1 if resumed.size else len(values) - 1
        if not any(first <= fall.index <= stop.index for fall in falls):
            kept_stops.append(stop)
        later += [fall for fall in falls if stop.index < fall.index <= last]
    return [a for a in found if a not in later] + kept_stops
