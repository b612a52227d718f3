"""Spikes, lasting level shifts and gradual drifts in a numeric series.

Every point is judged against the robust baseline of the points before it
(``baseline``) as a robust z-score. A **spike** is a point far outside normal
that the next few points do not follow. A **lasting change** is found by a
two-sided CUSUM (Page, 1954) over z-scores clipped so that no single outlier
can raise it alone; where it crosses its threshold, the change began just
after it last stood at zero. Real series wander: neighbouring z-scores are
correlated, and a sum of correlated scores strays further than one of
independent ones, so the scores are divided by the long-run inflation of an
AR(1) process with the series' lag-one autocorrelation, sqrt((1 + r) / (1 - r)),
before they are summed. The change is then told apart by two least-squares
fits of what followed: a step (a **level shift**) and a ramp that rises to a
plateau (a **drift**); the ramp wins only when it fits clearly better.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from controltower.anomaly.baseline import Array, Baseline
from controltower.anomaly.model import Anomaly, Kind
from controltower.anomaly.severity import metric_severity
from controltower.anomaly.tuning import Tuning

# A change is a drift when a ramp leaves at most this share of a step's squared error.
DRIFT_FIT = 0.85
MAX_AUTOCORRELATION = 0.8


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


def inflation(z: Array, clip: float = np.inf) -> float:
    """How much wider sums of these scores stray than sums of independent ones.

    The autocorrelation is estimated from neighbouring pairs both within
    ``clip``, so outliers and the large changes being looked for do not count.
    """
    pairs = np.isfinite(z[:-1]) & np.isfinite(z[1:])
    pairs &= (np.abs(z[:-1]) < clip) & (np.abs(z[1:]) < clip)
    a, b = z[:-1][pairs], z[1:][pairs]
    if a.size < 10 or float(np.std(a)) == 0.0 or float(np.std(b)) == 0.0:
        return 1.0
    r = float(np.corrcoef(a, b)[0, 1])
    r = min(max(r, 0.0), MAX_AUTOCORRELATION) if np.isfinite(r) else 0.0
    return float(np.sqrt((1 + r) / (1 - r)))


def detect_changes(
    timestamps: Sequence[datetime], values: Array, baseline: Baseline, tuning: Tuning
) -> list[Anomaly]:
    """Lasting shifts and drifts, by a two-sided CUSUM of clipped robust z-scores."""
    raw = z_scores(values, baseline)
    z = np.clip(raw, -tuning.clip, tuning.clip) / inflation(raw, tuning.clip)
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
    """``drift`` when a ramp to a plateau fits clearly better than a step, else ``level_shift``.

    Both fits may begin anywhere in the first half (where the change began is
    only estimated); the ramp may take any length from 3 points. Least squares,
    each with its best level.
    """
    r = np.asarray(residual, dtype=float)
    n = len(r)
    if n < 6:
        return "level_shift"
    t = np.arange(n, dtype=float)
    begins = np.arange(0, n // 2 + 1, dtype=float)
    steps = (t[None, :] >= begins[:, None]).astype(float)
    lengths = np.arange(3, n + 1, dtype=float)
    ramps = np.clip(
        (t[None, None, :] - begins[:, None, None] + 1) / lengths[None, :, None], 0.0, 1.0
    ).reshape(-1, n)
    step_error = _best_error(steps, r)
    ramp_error = _best_error(ramps, r)
    return "drift" if ramp_error < DRIFT_FIT * step_error else "level_shift"


def _best_error(shapes: Array, r: Array) -> float:
    """The least squared error of ``r`` against any of ``shapes`` times its best factor."""
    weight = np.sum(shapes * shapes, axis=1)
    factor = np.where(weight > 0, (shapes @ r) / np.where(weight > 0, weight, 1.0), 0.0)
    errors = np.sum((r[None, :] - factor[:, None] * shapes) ** 2, axis=1)
    return float(np.min(errors))
