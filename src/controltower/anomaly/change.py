"""One lasting change: described from where its sum began to its alarm, and the tests it must
pass to be told (large enough, in the series' unit too; not a wobble before a step; standing
apart by rank from the points before it). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Literal

import numpy as np

from controltower.anomaly.baseline import Array, Baseline
from controltower.anomaly.model import Anomaly
from controltower.anomaly.severity import metric_severity, ratio_size
from controltower.anomaly.shape import classify_change
from controltower.anomaly.tuning import Tuning


def moved_after(
    values: Array, baseline: Baseline, tuning: Tuning, start: int, alarm: int, change: Anomaly
) -> bool:
    """Whether a level shift's crossing was a wobble before it: the points that crossed the
    threshold stayed under ``min_relative`` of normal, the level judged after them did not.

    Told at the crossing, the change would be dated before it began and hold
    the window; the sums start anew instead, and the change is summed from
    where it began. (A drift's first points are small by nature: not here.)
    """
    expected = abs(change.expected)
    if not tuning.wobble_restart or change.kind != "level_shift":
        return False
    if expected == 0.0 or abs(change.observed - change.expected) < tuning.min_relative * expected:
        return False
    crossed = values[start : alarm + 1] - baseline.profile[start : alarm + 1]
    level = float(np.median(crossed)) + float(baseline.profile[start])
    return abs(level - change.expected) < tuning.min_relative * expected


def _judged_end(values: Array, tuning: Tuning, alarm: int, until: int | None) -> int:
    """Where the stretch a change is judged on ends: ``classify_after`` points after its alarm,
    or at a second step (``until``), or at the series' end."""
    return min(len(values), alarm + tuning.classify_after + 1, until or len(values))


def unranked(
    values: Array,
    baseline: Baseline,
    tuning: Tuning,
    start: int,
    alarm: int,
    change: Anomaly,
    until: int | None,
) -> bool:
    """Whether the points the change is judged on (from its start to ``classify_after`` after
    its alarm, as ``describe_change`` takes them) do not stand apart by rank from the
    ``window`` points before its start: a one-sided Mann-Whitney test, its way, at
    ``rank_alpha``.

    A sum of scores against a median adds up by itself where that median is a poor centre: a
    workflow built on some days only gives a mix of idle and busy days, whose median moves
    between the two as the share of idle days wanders. The ranks of the points know nothing of
    the centre; the same values in any order pass the test at the rate asked for.
    """
    if tuning.rank_alpha <= 0.0:
        return False
    end = _judged_end(values, tuning, alarm, until)
    level = values - baseline.profile
    before, after = level[max(0, start - tuning.window) : start], level[start:end]
    before, after = before[np.isfinite(before)], after[np.isfinite(after)]
    if before.size < tuning.min_history or after.size < 2:
        return False
    from scipy.stats import mannwhitneyu  # noqa: PLC0415 (slow to import; only at a change)

    way: Literal["greater", "less"] = "greater" if change.observed >= change.expected else "less"
    tail = mannwhitneyu(after, before, alternative=way, method="asymptotic").pvalue
    return bool(tail >= tuning.rank_alpha)


def large_enough(anomaly: Anomaly, min_relative: float, *, both_ways: bool = False) -> bool:
    """Whether the departure is at least ``min_relative`` of normal (always, when normal is 0).

    ``both_ways``: for positive values, a fall counts as the rise of the same ratio (to half
    is as large as to double; ``ratio_size``).
    """
    if anomaly.expected == 0.0:
        return anomaly.observed != 0.0
    if both_ways and anomaly.expected > 0.0 and anomaly.observed >= 0.0:
        return ratio_size(anomaly.expected, anomaly.observed) >= min_relative
    return abs(anomaly.change) >= min_relative * abs(anomaly.expected)


def too_small(change: Anomaly, tuning: Tuning) -> bool:
    """Whether ``small_restart`` lets a change under ``min_relative`` of normal, or under
    ``min_change``, hold nothing: it would not be reported (``large_enough``, judged in the
    series' own unit: with ``log_scale`` the values were ``log(1 + x)``), and a change that
    follows it soon would otherwise wait out its window."""
    if not tuning.small_restart:
        return False
    if tuning.log_scale:
        unlogged = (math.expm1(change.expected), math.expm1(change.observed))
        change = replace(change, expected=unlogged[0], observed=unlogged[1])
    # against a normal of zero (a crossing whose level stayed zero too) the window is held
    return change.expected != 0.0 and (
        abs(change.observed - change.expected) < tuning.min_change
        or not large_enough(change, tuning.min_relative, both_ways=tuning.both_ways)
    )


def held_z(values: Array, baseline: Baseline, level: Array, held: int, i: int) -> float:
    """The score of point ``i`` against the baseline as it was at point ``held``."""
    return float((values[i] - baseline.profile[i] - level[held]) / baseline.scale[held])


def clipped(z: float, tuning: Tuning) -> float:
    return min(max(float(z), -tuning.clip), tuning.clip)


def describe_change(
    timestamps: Sequence[datetime],
    values: Array,
    baseline: Baseline,
    tuning: Tuning,
    start: int,
    alarm: int,
    settled: tuple[int, float] | None = None,
    *,
    until: int | None = None,
) -> Anomaly:
    """Describe the change that began at ``start`` and crossed the threshold at ``alarm``.

    Its kind is judged on what the series did from up to a window before the
    alarm (a slow drift is often only noticed late) to ``classify_after``
    points after it, against the baseline before that stretch: as later points
    arrive, a change first called a shift is re-labelled a drift once the ramp
    is evident (``classified_at`` says when the kind was settled). A further
    change is judged from where the level it departs from had ``settled``
    (the first point, and that level) instead; a change followed by a second
    step before ``classify_after`` points, on the points ``until`` it.
    """
    end = _judged_end(values, tuning, alarm, until)
    first = max(0, alarm - 2 * tuning.window, min(start, alarm - tuning.window))
    if not np.isfinite(baseline.center[first]):
        first = start
    reference = float(baseline.center[first] - baseline.profile[first])
    if settled is not None:
        first, reference = settled
    residual = values[first:end] - baseline.profile[first:end] - reference
    ramp, evidence = tuning.window // 2, tuning.drift_evidence
    kind = classify_change(residual, ramp, alarm - first, evidence=evidence, smooth=tuning.smooth)
    expected = float(baseline.center[start])
    # a shift: the level after the alarm; a drift: where the ramp had got to when classified
    reached = end - max(tuning.smooth, tuning.classify_after // 3) if kind == "drift" else alarm
    observed = float(np.median(values[max(alarm, reached) : end]))
    return Anomaly(
        kind=kind,
        severity=metric_severity(expected, observed),
        start=timestamps[start],
        timestamp=timestamps[alarm],
        expected=expected,
        observed=observed,
        score=abs(observed - expected) / float(baseline.scale[start]),
        index=alarm,
        details={"classified_at": timestamps[end - 1].isoformat()},
    )
