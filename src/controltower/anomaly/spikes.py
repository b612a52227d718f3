"""Spikes: single points, and short excursions that came back, far outside normal.

Every point is judged against the robust baseline of the points before it
(``baseline``) as a robust z-score. A **spike** is a point far outside normal
that the next few points do not follow; for metrics from elsewhere, an
excursion of a few points that came back (a **transient**) is one spike too,
and a series mostly at zero is judged for spikes against its usual peak
(**sporadic spikes**). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np

from controltower.anomaly.baseline import NO_SPREAD, Array, Baseline
from controltower.anomaly.model import Anomaly
from controltower.anomaly.severity import metric_severity, peak_severity
from controltower.anomaly.tuning import Tuning


def z_scores(values: Array, baseline: Baseline) -> Array:
    """How many normal spreads each point lies from its baseline (``nan`` without one)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (values - baseline.center) / baseline.scale


def allowed(tuning: Tuning, sign: int) -> bool:
    return tuning.direction == "both" or (tuning.direction == "up") == (sign > 0)


def tail_excess(values: Array, baseline: Baseline, at: int, sign: int, tuning: Tuning) -> float:
    """How far past normal the series' own tail reaches before ``at`` (``nan``: too little known).

    The departures from the baseline of the ``tail_window`` points before
    ``at`` are taken in the spike's direction, and their ``tail_quantile``
    returned: on a heavy-tailed series (queue times, counts per day) it is
    far wider than the robust spread says. They are departures from the
    baseline with the rhythm removed at ``at`` (``Baseline.as_chosen_at``):
    the weekends of a series low at weekends, judged before its rhythm was
    learnt, are not its tail once it is. Where fewer than ``min_history`` of
    those points had that rhythm known (it was chosen as soon as it was), the
    departures as each point was judged stand in.
    """
    lo = max(0, at - tuning.tail_window)
    departures = _finite(sign * (values[lo:at] - baseline.as_chosen_at(at)[lo:at]))
    if departures.size < tuning.min_history:
        departures = _finite(sign * (values[lo:at] - baseline.center[lo:at]))
    if departures.size < tuning.min_history:
        return float("nan")
    return max(float(np.quantile(departures, tuning.tail_quantile)), 0.0)


def _finite(values: Array) -> Array:
    finite: Array = values[np.isfinite(values)]
    return finite


def detect_spikes(
    timestamps: Sequence[datetime], values: Array, baseline: Baseline, tuning: Tuning
) -> list[Anomaly]:
    """Points beyond ``spike_z`` and ``spike_tail`` times the tail that the next do not follow.

    At most half of the next ``confirm`` points may follow it: be beyond
    ``spike_z / 2`` and at least ``follow_share`` of its departure from
    normal where it came, with each point's rhythm (``_held``; on a
    heavy-tailed series, points a few spreads out are common and do not
    make a point ten times as far out the start of a change).
    Where normal has no spread (the points before were all zero: a
    repository without runs for weeks), spreads are counted in the series'
    unit instead, the smallest value away from zero seen before
    (``details["unit"]``): against a spread of nothing, the ordinary points
    after a spike would count as following it, and the spike as the start of
    a lasting change.
    """
    unit = smallest_away_from_zero_before(values)
    unspread = (baseline.scale <= NO_SPREAD) & np.isfinite(unit)
    z = z_scores(values, replace(baseline, scale=np.where(unspread, unit, baseline.scale)))
    found = []
    for i in (int(j) for j in np.flatnonzero(np.abs(np.nan_to_num(z)) >= tuning.spike_z)):
        sign = 1 if z[i] > 0 else -1
        if not allowed(tuning, sign):
            continue
        after = z[i + 1 : i + 1 + tuning.confirm]
        departure = sign * (values[i] - baseline.center[i])
        following = values[i + 1 : i + 1 + tuning.confirm]
        reach = sign * (following - _held(baseline, i, i + 1 + tuning.confirm)[1:])
        beyond = np.nan_to_num(after) * sign >= tuning.spike_z / 2
        followed = int(np.sum(beyond & (reach >= tuning.follow_share * departure)))
        if followed > tuning.confirm // 2:
            continue
        expected, observed = float(baseline.center[i]), float(values[i])
        tail = tail_excess(values, baseline, i, sign, tuning)
        if not sign * (observed - expected) > tuning.spike_tail * tail:
            continue  # within (or too little known of) what the series' own tail reaches
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
                details={"tail": round(tail, 6)}
                | ({"unit": round(float(unit[i]), 6)} if unspread[i] else {}),
            )
        )
    return found


def _held(baseline: Baseline, at: int, end: int | None = None) -> Array:
    """The expected values from ``at`` on (to ``end``, excluded) as the baseline at ``at`` has
    them: its level there, with the rhythm of each point. The points after an outlier are
    judged against normal where it came, which they cannot move, and a weekend after a fall
    on weekdays of a series low at weekends is its usual self, not the fall going on."""
    level = float(baseline.center[at] - baseline.profile[at])
    held: Array = level + baseline.profile[at:end]
    return held


TRANSIENT_POINTS = 15
"""The most points an excursion that came back is told as one spike (``detect_transients``)."""


def detect_transients(
    timestamps: Sequence[datetime], values: Array, baseline: Baseline, tuning: Tuning
) -> list[Anomaly]:
    """Excursions of a few points that came back: spikes that more than one point followed.

    A point beyond ``spike_z`` (and the series' own tail) that the next points follow is no
    spike (``detect_spikes``): it may start a lasting change. When the points from it stay
    beyond ``spike_z / 2`` spreads of the baseline there for at most ``TRANSIENT_POINTS``
    and then the next ``confirm`` are all back within it, it was neither: a latency incident
    of ten minutes, an error storm. It is told as a spike at its first point, observed at
    its median, with how many points it lasted (``details["points"]``) and when it was
    over (``details["classified_at"]``): what the change detector would judge too small,
    its settled level being normal again.
    """
    z = z_scores(values, baseline)
    found: list[Anomaly] = []
    n = len(values)
    i = 0
    while i < n:
        zi = float(z[i]) if math.isfinite(z[i]) else 0.0
        sign = 1 if zi > 0 else -1
        if abs(zi) < tuning.spike_z or not allowed(tuning, sign):
            i += 1
            continue
        center, scale = float(baseline.center[i]), float(baseline.scale[i])
        held = sign * (values[i:] - _held(baseline, i)) / scale
        out = held >= tuning.spike_z / 2
        length = int(np.argmin(out)) if not out.all() else n - i
        back = out[length : length + tuning.confirm]
        if not 2 <= length <= TRANSIENT_POINTS or len(back) < tuning.confirm or back.any():
            i += max(length, 1)
            continue
        run = values[i : i + length]
        observed = float(np.median(run))
        tail = tail_excess(values, baseline, i, sign, tuning)
        if sign * (observed - center) > tuning.spike_tail * tail:
            end = i + length - 1
            found.append(
                Anomaly(
                    kind="spike",
                    severity=metric_severity(center, observed),
                    start=timestamps[i],
                    timestamp=timestamps[i],
                    expected=center,
                    observed=observed,
                    score=float(np.median(np.abs(z[i : i + length]))),
                    index=i,
                    details={
                        "tail": round(tail, 6),
                        "points": length,
                        "classified_at": timestamps[min(end + tuning.confirm, n - 1)].isoformat(),
                    },
                )
            )
        i += length
    return found


def detect_sporadic_spikes(
    timestamps: Sequence[datetime], values: Array, tuning: Tuning
) -> list[Anomaly]:
    """Spikes of a mostly-zero series: each more than ``sporadic_peak`` times its usual peak.

    A mostly-zero series (errors per minute, failures per day) has a median and
    a spread of zero, so no score against them means anything. Its usual peak
    at a point is the second-largest departure from their median of the
    ``tail_window`` points before (one earlier incident does not raise the
    bar), and at least the smallest value away from zero seen before (its
    unit: one error); with fewer than ``min_history`` points before, or none
    yet away from zero, nothing is judged. The score is the departure in
    multiples of that peak.
    """
    found: list[Anomaly] = []
    units = smallest_away_from_zero_before(values)
    for i in range(len(values)):
        value, smallest = float(values[i]), float(units[i])
        if not math.isfinite(value):
            continue
        if i >= tuning.min_history and value != 0.0 and math.isfinite(smallest):
            before = values[max(0, i - tuning.tail_window) : i]
            before = before[np.isfinite(before)]
            expected = float(np.median(before))
            departures = np.abs(before - expected)
            # the second highest: one earlier incident in the window does not set the bar
            reach = float(np.partition(departures, -2)[-2]) if len(departures) > 1 else 0.0
            peak = max(reach, smallest)
            departure = value - expected
            times = abs(departure) / peak
            sign = 1 if departure > 0 else -1
            if times > tuning.sporadic_peak and allowed(tuning, sign):
                found.append(
                    Anomaly(
                        kind="spike",
                        severity=peak_severity(times, tuning.sporadic_peak),
                        start=timestamps[i],
                        timestamp=timestamps[i],
                        expected=expected,
                        observed=value,
                        score=times,
                        index=i,
                        details={"sporadic": True, "peak": round(peak, 6)},
                    )
                )
    return found


def smallest_away_from_zero_before(values: Array) -> Array:
    """At each point, the smallest absolute value away from zero among the known points
    before it (the series' unit: one error, one run, a cent), or infinity where none was."""
    away = np.where(np.isfinite(values) & (values != 0.0), np.abs(values), np.inf)
    return np.concatenate([[np.inf], np.minimum.accumulate(away)[:-1]])
