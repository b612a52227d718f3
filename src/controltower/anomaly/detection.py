"""One entry point for any series: numeric metrics, or run outcomes (0 passed, 1 failed).

A numeric series that is constant, or zero at more than half its points (an
intermittent series, such as the cost per day of a repository built now and
then), has no normal spread to depart from and is not judged.
"""

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
    if not judged_series(values):
        return []
    logged = tuning.log_scale and float(values.min()) >= 0.0
    judged = np.log1p(values) if logged else values
    baseline = robust_baseline(timestamps, judged, tuning.window, tuning.min_history)
    found = detect_spikes(timestamps, judged, baseline, tuning)
    found += detect_changes(timestamps, judged, baseline, tuning)
    if logged:
        found = [_unlogged(a) for a in found]
    found = [
        a
        for a in found
        if large_enough(a, tuning.spike_relative if a.kind == "spike" else tuning.min_relative)
    ]
    return episodes(sorted(found, key=lambda a: (a.index, a.kind)), tuning.window)


INTERMITTENT = 0.5  # a numeric series zero at more than this share of points is not judged


def judged_series(values: np.ndarray) -> bool:
    """Whether a numeric series can be judged: not constant, and not mostly zero."""
    if len(values) == 0 or float(np.ptp(values)) == 0.0:
        return False
    return float(np.mean(values == 0.0)) <= INTERMITTENT


def large_enough(anomaly: Anomaly, min_relative: float) -> bool:
    """Whether the departure is at least ``min_relative`` of normal (always, when normal is 0)."""
    if anomaly.expected == 0.0:
        return anomaly.observed != 0.0
    return abs(anomaly.change) >= min_relative * abs(anomaly.expected)


def episodes(found: list[Anomaly], window: int) -> list[Anomaly]:
    """One alarm per episode: after a shift or drift, none its way for ``window`` points."""
    kept: list[Anomaly] = []
    quiet: dict[bool, int] = {True: -1, False: -1}
    for anomaly in found:
        up = anomaly.change >= 0
        if anomaly.index <= quiet[up]:
            continue
        kept.append(anomaly)
        if anomaly.kind in ("level_shift", "drift"):
            quiet[up] = anomaly.index + window
    return sorted(kept, key=lambda a: (a.timestamp, a.kind))


def _unlogged(anomaly: Anomaly) -> Anomaly:
    """The anomaly in the series' own unit, its severity judged there."""
    expected, observed = float(np.expm1(anomaly.expected)), float(np.expm1(anomaly.observed))
    return replace(
        anomaly,
        expected=expected,
        observed=observed,
        severity=metric_severity(expected, observed),
    )
