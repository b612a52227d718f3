"""Lasting level shifts and gradual drifts in a numeric series, by a CUSUM.

A **lasting change** is found by a two-sided CUSUM (Page, 1954) over robust
z-scores (``spikes.z_scores``) clipped so that no single outlier can raise it
alone, divided by the series' own inflation (``inflation``); where it crosses
its threshold, the change began just after it last stood at zero. It is then
described and judged (``change``), its kind told by its shape (``shape``),
and watched after (``further``). A crossing whose change is too small to tell
holds nothing: the sums start anew from the next point. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import numpy as np

from controltower.anomaly.baseline import Array, Baseline
from controltower.anomaly.change import (
    clipped,
    describe_change,
    held_z,
    moved_after,
    too_small,
    unranked,
)
from controltower.anomaly.further import Further, Settling, one_ramp
from controltower.anomaly.inflation import trailing_inflation
from controltower.anomaly.model import Anomaly, Told
from controltower.anomaly.spikes import allowed, z_scores
from controltower.anomaly.steps import before_second_step
from controltower.anomaly.tuning import Tuning, hold_bars


def detect_changes(
    timestamps: Sequence[datetime],
    values: Array,
    baseline: Baseline,
    tuning: Tuning,
    told: Collection[Told] = (),
) -> list[Anomaly]:
    """Lasting shifts and drifts, by a two-sided CUSUM of clipped robust z-scores.

    While a sum is above zero, its points are scored against the baseline
    where it left zero, held fixed: the trailing baseline would otherwise
    follow the change it is accumulating evidence of, and a large shift or a
    slow drift would never add up. For a window after an alarm no new change
    is looked for, except a further one either way after a level shift or a
    drift (``Further``, one watch per direction; the first to cross is told,
    and is watched after in turn).
    A crossing at the alarm of a change ``told`` before, the same way, is
    judged with the bars it is held to (``tuning.hold_bars``).
    """
    raw = z_scores(values, baseline)
    scale = trailing_inflation(raw, tuning.clip, tuning.window)
    level = baseline.center - baseline.profile
    found: list[Anomaly] = []
    sums = {1: 0.0, -1: 0.0}
    starts: dict[int, int | None] = {1: None, -1: None}
    resume = 0
    further: list[Further] = []
    settling: Settling | None = None
    for i in range(len(values)):
        if i < resume:
            more, further = Further.step_all(
                further, timestamps, values, baseline, tuning, float(scale[i]), i
            )
            if (
                more is not None
                and settling is not None
                and one_ramp(values, baseline, tuning, settling, more)
            ):
                found[settling.position], settling, further = settling.later, None, []
            elif more is not None:
                found.append(more)
                resume, settling = i + tuning.window, None
        if settling is not None and i >= resume:
            found[settling.position], settling = settling.later, None
        if i < resume or not np.isfinite(raw[i]):
            sums, starts = {1: 0.0, -1: 0.0}, {1: None, -1: None}
            continue
        further = []
        _add_to_both(sums, starts, raw, values, baseline, level, scale, tuning, i)
        for sign in (1, -1):
            start = starts[sign]
            if sums[sign] > tuning.cusum_h and start is not None:
                until = before_second_step(values, baseline, tuning, i)
                change = describe_change(
                    timestamps, values, baseline, tuning, start, i, until=until
                )
                bars = hold_bars(tuning) if change.told in told else tuning
                if (
                    moved_after(values, baseline, bars, start, i, change)
                    or too_small(change, bars)
                    or unranked(values, baseline, bars, start, i, change, until)
                ):
                    sums, starts = {1: 0.0, -1: 0.0}, {1: None, -1: None}
                    break
                if allowed(tuning, sign):
                    at = len(found)
                    settling = Settling.of(timestamps, values, baseline, tuning, change, start, at)
                    found.append(change)
                resume = i + tuning.window
                if tuning.further and (change.kind == "level_shift" or tuning.further_after_drift):
                    further = Further.both_ways(values, baseline, tuning, i, until)
                break
    if settling is not None and len(values) > resume:
        found[settling.position] = settling.later  # its window is over without a further change
    return found


def _add_to_both(
    sums: dict[int, float],
    starts: dict[int, int | None],
    raw: Array,
    values: Array,
    baseline: Baseline,
    level: Array,
    scale: Array,
    tuning: Tuning,
    i: int,
) -> None:
    """Point ``i`` added to the sums up and down, in place (a sum under way scores it against
    the baseline where it left zero)."""
    for sign in (1, -1):
        held = starts[sign]
        z = raw[i] if held is None else held_z(values, baseline, level, held, i)
        sums[sign], starts[sign] = _summed(sums[sign], held, sign * z, float(scale[i]), tuning, i)


def _summed(
    total: float, start: int | None, z: float, scale: float, tuning: Tuning, i: int
) -> tuple[float, int | None]:
    """One CUSUM step: the sum after adding score ``z`` at point ``i``, and where it began."""
    total = max(0.0, total + clipped(z, tuning) / scale - tuning.cusum_k)
    if total == 0.0:
        return total, None
    return total, i if start is None else start
