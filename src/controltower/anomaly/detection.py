"""One entry point for any series: numeric metrics, or run outcomes (0 passed, 1 failed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from controltower.anomaly.baseline import robust_baseline
from controltower.anomaly.bursts import detect_bursts
from controltower.anomaly.detectors import detect_changes, detect_spikes
from controltower.anomaly.model import Anomaly, Point, sorted_points
from controltower.anomaly.severity import metric_severity
from controltower.anomaly.tuning import Tuning


def is_outcomes(points: Sequence[Point]) -> bool:
    """Whether every value is 0 or 1: a series of outcomes, judged for failure bursts."""
    return bool(points) and all(p.value in (0.0, 1.0) for p in points)


def detect(
    points: Sequence[Point], tuning: Tuning | None = None, *, outcomes: bool | None = None
) -> list[Anomaly]:
    """The anomalies of a series, in time order.

    Outcome series (``outcomes``, or by default any series of only 0 and 1) are
    judged for failure bursts; others for spikes, level shifts and drifts.
    Points need not be evenly spaced; they are sorted by time first.
    """
    tuning = tuning or Tuning()
    ordered = sorted_points(points)
    timestamps = [p.timestamp for p in ordered]
    values = np.array([p.value for p in ordered], dtype=float)
    if outcomes is None:
        outcomes = is_outcomes(ordered)
    if outcomes:
        return detect_bursts(timestamps, values, tuning)
    if len(values) == 0 or float(np.ptp(values)) == 0.0:
        return []  # a constant series has no normal spread to depart from
    logged = tuning.log_scale and float(values.min()) >= 0.0
    judged = np.log1p(values) if logged else values
    baseline = robust_baseline(timestamps, judged, tuning.window, tuning.min_history)
    found = detect_spikes(timestamps, judged, baseline, tuning)
    found += detect_changes(timestamps, judged, baseline, tuning)
    if logged:
        found = [_unlogged(a) for a in found]
    return sorted(found, key=lambda a: (a.timestamp, a.kind))


def _unlogged(anomaly: Anomaly) -> Anomaly:
    """The anomaly in the series' own unit, its severity judged there."""
    expected, observed = float(np.expm1(anomaly.expected)), float(np.expm1(anomaly.observed))
    return replace(
        anomaly,
        expected=expected,
        observed=observed,
        severity=metric_severity(expected, observed),
    )
