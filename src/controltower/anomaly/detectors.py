"""Spikes, lasting level shifts and gradual drifts in a numeric series.

Every point is judged against the robust baseline of the points before it
(``baseline``) as a robust z-score. A **spike** is a point far outside normal
that the next few points do not follow. A **lasting change** is found by a
two-sided CUSUM (Page, 1954) over z-scores clipped so that no single outlier
can raise it alone; where it crosses its threshold, the change began just
after it last stood at zero. The change is then told apart: a **drift** when
a robust straight line through what followed rises by a large part of the
change (a ramp), a **level shift** when it is flat (a step). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from controltower.anomaly.baseline import Array, Baseline
from controltower.anomaly.model import Anomaly, Kind
from controltower.anomaly.severity import metric_severity
from controltower.anomaly.tuning import Tuning

# A change is a drift when the line through it rises by at least this share of its size.
DRIFT_RISE = 0.6


def z_scores(values: Array, baseline: Baseline) -> Array:
    """How many normal spreads each point lies from its baseline (``nan`` without one)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (values - baseline.center) / baseline.scale


def _allowed(tuning: Tuning, sign: int) -> bool:
    return tuning.direction == "both" or (tuning.direction == "up") == (sign > 0)


def detect_spikes(
    timestamps: Sequence[datetime], values: Array, baseline: Baseline, tuning: Tuning
) -> list[Anomaly]:
    """Points beyond ``spike_z`` that at most one of the next ``confirm`` points follows."""
    z = z_scores(values, baseline)
    found = []
    for i in (int(j) for j in np.flatnonzero(np.abs(np.nan_to_num(z)) >= tuning.spike_z)):
        sign = 1 if z[i] > 0 else -1
        if not _allowed(tuning, sign):
            continue
        after = z[i + 1 : i + 1 + tuning.confirm]
        followed = int(np.sum(np.nan_to_num(after) * sign >= tuning.spike_z / 2))
        if followed > tuning.confirm // 2:
            continue
        expected, observed = float(baseline.center[i]), float(values[i])
        found.append(
            Anomaly(
                kind="spike",
                severity=metric_severity(expected, observed),
                start=timestamps[i],
                timestamp=timestamps[i],
                expected=expected,
                observed=observed,
                score=float(abs(z[i])),
                index=int(i),
            )
        )
    return found


def detect_changes(
    timestamps: Sequence[datetime], values: Array, baseline: Baseline, tuning: Tuning
) -> list[Anomaly]:
    """Lasting shifts and drifts, by a two-sided CUSUM of clipped robust z-scores."""
    z = np.clip(z_scores(values, baseline), -tuning.clip, tuning.clip)
    found: list[Anomaly] = []
    sums = {1: 0.0, -1: 0.0}
    starts: dict[int, int | None] = {1: None, -1: None}
    resume = 0
    for i in range(len(values)):
        if i < resume or not np.isfinite(z[i]):
            sums, starts = {1: 0.0, -1: 0.0}, {1: None, -1: None}
            continue
        for sign in (1, -1):
            sums[sign] = max(0.0, sums[sign] + sign * float(z[i]) - tuning.cusum_k)
            if sums[sign] == 0.0:
                starts[sign] = None
            elif starts[sign] is None:
                starts[sign] = i
        for sign in (1, -1):
            start = starts[sign]
            if sums[sign] > tuning.cusum_h and start is not None:
                if _allowed(tuning, sign):
                    found.append(_change(timestamps, values, baseline, tuning, start, i))
                resume = i + tuning.window
                break
    return found


def _change(
    timestamps: Sequence[datetime],
    values: Array,
    baseline: Baseline,
    tuning: Tuning,
    start: int,
    alarm: int,
) -> Anomaly:
    """Describe the change that began at ``start`` and crossed the threshold at ``alarm``."""
    end = min(len(values), alarm + tuning.window // 2 + 1)
    expected = float(baseline.center[start])
    spread = float(baseline.scale[start])
    after = values[start:end] - baseline.profile[start:end]
    observed = float(np.median(values[alarm:end]))
    kind = classify_change(after - (expected - baseline.profile[start]))
    return Anomaly(
        kind=kind,
        severity=metric_severity(expected, observed),
        start=timestamps[start],
        timestamp=timestamps[alarm],
        expected=expected,
        observed=observed,
        score=abs(observed - expected) / spread,
        index=alarm,
    )


def classify_change(residual: Array) -> Kind:
    """``drift`` when the change ramps (a robust line rises by much of it), else ``level_shift``.

    The line's slope is Theil and Sen's: the median of the slopes between all
    pairs of points, which a few outliers do not move.
    """
    n = len(residual)
    if n < 4:
        return "level_shift"
    t = np.arange(n, dtype=float)
    i, j = np.triu_indices(n, k=1)
    slope = float(np.median((residual[j] - residual[i]) / (t[j] - t[i])))
    rise = abs(slope) * (n - 1)
    level = abs(float(np.median(residual)))
    return "drift" if level > 0 and rise >= DRIFT_RISE * level else "level_shift"
