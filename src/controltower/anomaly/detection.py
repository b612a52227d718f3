"""One entry point for any series: numeric metrics, or run outcomes (0 passed, 1 failed).

A numeric series that is constant, or zero at more than half its points up to
its last one away from zero (an intermittent series, such as the cost per day
of a repository built now and then), has no normal spread to depart from and
is not judged for shifts and drifts; with ``Tuning.sporadic`` (``anomaly
detect``: error counts and the like) an intermittent one is judged for spikes
against its usual peak. With ``Tuning.busy``, a judged series of totals that
is zero at some of its points (a workflow idle on some days) is judged for
shifts and drifts on its busy points alone as well (``busy_changes``). With
``Tuning.stops``, a judged series without negative values is also watched
for a stop: a run of zeros longer than its
history makes likely (``stops``), told as a level shift to zero; a fall the
change detector tells during that run of zeros is the same drop, told once.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np

from controltower.anomaly.baseline import Array, Baseline, robust_baseline
from controltower.anomaly.bursts import detect_bursts
from controltower.anomaly.change import large_enough
from controltower.anomaly.changes import detect_changes
from controltower.anomaly.model import LASTING, Anomaly, Direction, Point, Told, sorted_points
from controltower.anomaly.severity import metric_severity, ratio_severity, ratio_size
from controltower.anomaly.spikes import (
    detect_spikes,
    detect_sporadic_spikes,
    detect_transients,
    smallest_away_from_zero_before,
)
from controltower.anomaly.stops import detect_stops, with_stops
from controltower.anomaly.tuning import Tuning, hold_bars


def is_outcomes(points: Sequence[Point]) -> bool:
    """Whether every value is 0 or 1: a series of outcomes, judged for failure bursts."""
    return bool(points) and all(p.value in (0.0, 1.0) for p in points)


def detect(
    points: Sequence[Point],
    tuning: Tuning | None = None,
    *,
    outcomes: bool | None = None,
    told: Collection[Told] = (),
) -> list[Anomaly]:
    """The anomalies of a series, in time order.

    Outcome series (``outcomes``, or by default any series of only 0 and 1) are
    judged for failure bursts (with ``Tuning.both_ways``, bursts of zeros too, with
    ``details["value"]`` saying which: an up/down gauge's outage); others for spikes, level
    shifts and drifts.
    Points need not be evenly spaced; they are sorted by time first.
    ``told``: the shifts and drifts told by an earlier look at the series (``Anomaly.told``),
    held to lower bars than new ones (``tuning.hold_bars``), so that a verdict near a bar does not
    come and go as points arrive.
    """
    tuning = given = tuning or Tuning()
    ordered = sorted_points(points)
    timestamps = [p.timestamp for p in ordered]
    values = np.array([p.value for p in ordered], dtype=float)
    if outcomes is None:
        outcomes = is_outcomes(ordered)
    if outcomes:
        return _bursts(timestamps, values, tuning)
    wanted = tuning.direction
    if tuning.both_ways and wanted != "both":
        # found both ways, so that the return from a change the other way is known as one
        tuning = replace(tuning, direction="both")
    if not judged_series(values, held=bool(told)):
        if tuning.sporadic and sporadic_series(values):
            spikes = episodes(detect_sporadic_spikes(timestamps, values, tuning), tuning)
            return [
                a
                for a in spikes
                if (wanted == "both" or _told_way(a, wanted)) and abs(a.change) >= tuning.min_change
            ]
        arrived = judged_prefix(values)
        # judged as it was while it arrived, up to where it became mostly zero
        return detect(ordered[:arrived], given, outcomes=False) if arrived else []
    logged = tuning.log_scale and float(values.min()) >= 0.0
    judged = np.log1p(values) if logged else values
    baseline = _baseline(timestamps, judged, tuning)
    found = detect_spikes(timestamps, judged, baseline, tuning)
    if tuning.both_ways:  # a metric from elsewhere: incidents of a few points that came back
        transients = detect_transients(timestamps, judged, baseline, tuning)
        within = {j for t in transients for j in range(t.index, t.index + t.details["points"])}
        found = [a for a in found if a.index not in within] + transients
    # a change too small to tell is judged in the series' unit (``change.too_small``)
    found += detect_changes(timestamps, judged, baseline, replace(tuning, log_scale=logged), told)
    if tuning.stops and tuning.direction != "up" and float(values.min()) >= 0.0:
        stops = detect_stops(timestamps, judged, baseline, tuning)
        found = with_stops(found, stops, judged)
    if logged:
        found = [_unlogged(a) for a in found]
    found = [a for a in found if _large_enough(a, tuning, told)]
    kept = episodes(sorted(found, key=lambda a: (a.index, a.kind)), tuning, logged=logged)
    if tuning.busy and not logged:
        kept = _with_busy(kept, busy_changes(timestamps, values, tuning, told), tuning, told)
    if tuning.both_ways:
        kept = graded_both_ways(kept, tuning.min_relative)
        if wanted != "both":
            kept = [a for a in kept if _told_way(a, wanted)]
    return _scored_in_units(kept, values)


def _baseline(timestamps: Sequence[datetime], values: Array, tuning: Tuning) -> Baseline:
    """The robust baseline of ``values`` as ``tuning`` asks for it."""
    return robust_baseline(
        timestamps,
        values,
        tuning.window,
        tuning.min_history,
        by_turn=tuning.rhythm_by_turn,
        choice_min=tuning.rhythm_min,
    )


def _large_enough(anomaly: Anomaly, tuning: Tuning, told: Collection[Told]) -> bool:
    """Whether ``anomaly`` departs enough from normal to be told, or, for a shift or drift told
    before, to be held (``tuning.hold_bars``): against normal, and in the series' unit
    (``min_change``; a stop whatever its size)."""
    bars = tuning
    if anomaly.kind in LASTING and anomaly.told in told:
        bars = hold_bars(tuning)
    least = bars.spike_relative if anomaly.kind == "spike" else bars.min_relative
    if not anomaly.details.get("stopped") and abs(anomaly.change) < bars.min_change:
        return False
    return large_enough(anomaly, least, both_ways=tuning.both_ways)


def _bursts(timestamps: Sequence[datetime], values: Array, tuning: Tuning) -> list[Anomaly]:
    """Failure bursts of an outcome series; of a 0/1 metric from elsewhere (``both_ways``),
    where which value is bad is not known (up is 1 for a gauge), bursts of either, saying
    which, unless ``direction`` says (up: bursts of ones are bad, down: of zeros)."""
    if not tuning.both_ways:
        return detect_bursts(timestamps, values, tuning)
    marked = []
    for value, told in ((1, "up"), (0, "down")):
        if tuning.direction in ("both", told):
            bursts = detect_bursts(timestamps, values if value else 1.0 - values, tuning)
            marked += [replace(a, details={**a.details, "value": value}) for a in bursts]
    return sorted(marked, key=lambda a: (a.timestamp, a.details["value"]))


def _told_way(anomaly: Anomaly, wanted: Direction) -> bool:
    """Whether a change of a metric that goes wrong ``wanted`` is told: one that way, or the
    return from one (a fall back after a rise); not a change the other way, nor its return."""
    way = anomaly.change > 0 if wanted == "up" else anomaly.change < 0
    return way != bool(anomaly.details.get("returned"))


def graded_both_ways(found: list[Anomaly], min_relative: float) -> list[Anomaly]:
    """Severity by ratio either way (``severity.ratio_severity``), and a change back the
    other way from the change before it (the end of an outage, a saturation that passed)
    told as info, ``returned``: its size against the level it leaves is as large as the
    outage's, but it is good news. A change is back when it is a further change of the one
    before (told against the level that one moved to), or, told later as a change of its
    own (after an outage longer than the watch for further changes), when it ends within
    ``min_relative`` of the level before that one. A return ends its episode: the change
    after it is news of its own (a regression a week after an incident that passed), not the
    return from the return."""
    graded = []
    previous: Anomaly | None = None
    closed = False  # whether ``previous`` was a return
    for anomaly in found:
        if anomaly.kind == "spike":
            graded.append(
                replace(
                    anomaly,
                    severity=ratio_severity(anomaly.expected, anomaly.observed, spike=True),
                )
            )
            continue
        back = (
            previous is not None
            and not closed  # a return ends its episode: what follows is a change of its own
            and (anomaly.change > 0) != (previous.change > 0)
            and (
                bool(anomaly.details.get("further"))  # told against the level it moved to
                or _back_to(previous.expected, anomaly.observed, min_relative)
            )
        )
        if back:
            details = {**anomaly.details, "returned": True}
            graded.append(replace(anomaly, severity="info", details=details))
        else:
            severity = ratio_severity(anomaly.expected, anomaly.observed)
            graded.append(replace(anomaly, severity=severity))
        previous, closed = anomaly, back
    return graded


# A score this large is a departure over the spread's last floor (1e-9): normal was all zero.
UNSPREAD_SCORE = 1e6


def _scored_in_units(found: list[Anomaly], values: np.ndarray) -> list[Anomaly]:
    """Departures from a normal of zero scored in the series' unit instead of its spread.

    Where the points before an anomaly were all zero (a repository without
    runs for weeks), normal has no spread and the robust z-score is the
    departure over a floor of 1e-9: a number in the billions that says
    nothing. Such an anomaly is scored, as sporadic spikes are, by its
    departure in multiples of the smallest value away from zero seen before
    it (one run, a cent a day; ``details["unit"]``), or of its own value where
    none was. Scores of other anomalies are left as they are. Done after
    ``episodes``, which reads the spread back from the score.
    """
    smallest_before = smallest_away_from_zero_before(values)
    scored = []
    for anomaly in found:
        if anomaly.expected != 0.0 or anomaly.score < UNSPREAD_SCORE:
            scored.append(anomaly)
            continue
        departure = abs(anomaly.observed)
        unit = float(smallest_before[anomaly.index])
        unit = unit if math.isfinite(unit) else departure
        details = {**anomaly.details, "unit": round(unit, 6)}
        scored.append(replace(anomaly, score=departure / unit, details=details))
    return scored


# A series of totals idle at this share of its points or more is judged on its busy ones too.
BUSY_IDLE = 0.1


def often_idle(values: Array) -> bool:
    """Whether a series of totals is zero at ``BUSY_IDLE`` of its points or more, up to its
    last one away from zero (the zeros a stopped workflow is followed with are not idleness)."""
    active = values[: active_length(values)]
    return active.size > 0 and float(np.mean(active == 0.0)) >= BUSY_IDLE


def busy_changes(
    timestamps: Sequence[datetime], values: Array, tuning: Tuning, told: Collection[Told] = ()
) -> list[Anomaly]:
    """Shifts and drifts of the amount on the busy points of a series of totals often idle.

    A workflow built on most days but not all gives daily totals that are a
    mix of zeros and busy days; each idle day lies far below normal, and the
    sums of a rise on the busy days are taken back by every idle day that
    follows: busy days costing twice as much go untold. The busy points
    (above zero) alone are judged here for lasting changes, as a series of
    their own (``details["busy"]``: expected and observed are amounts per
    busy point; ``busy_share``: the share of the ``window`` points before the
    alarm that were busy); how often the series is busy is the all-points
    series' business (a stop, or weekly totals).
    """
    if not often_idle(values):
        return []
    busy = np.flatnonzero(values > 0.0)
    amounts = values[busy]
    if busy.size <= tuning.min_history or float(np.ptp(amounts)) == 0.0:
        return []
    stamps = [timestamps[i] for i in busy.tolist()]
    baseline = _baseline(stamps, amounts, tuning)
    judged = replace(tuning, rank_alpha=tuning.busy_rank_alpha)
    found = []
    for a in detect_changes(stamps, amounts, baseline, judged, told):
        at = int(busy[a.index])
        before = values[max(0, at - tuning.window) : at]
        share = float(np.mean(before > 0.0)) if before.size else 1.0
        details = {**a.details, "busy": True, "busy_share": round(share, 3)}
        found.append(replace(a, index=at, details=details))
    return found


def _with_busy(
    found: list[Anomaly], busy: list[Anomaly], tuning: Tuning, told: Collection[Told]
) -> list[Anomaly]:
    """``found`` with each change of the busy points (large enough, ``_large_enough``) that no
    shift or drift of all the points its way lies within a window of: that is the same episode,
    told from all points as it was. Nothing of ``found`` is left out or changed."""
    near = [(a.index, a.change > 0) for a in found if a.kind in LASTING]
    in_unit = replace(tuning, both_ways=False)  # amounts per busy day: judged in their unit
    kept = [
        a
        for a in busy
        if _large_enough(a, in_unit, told)
        and not any(abs(a.index - i) <= tuning.window and up == (a.change > 0) for i, up in near)
    ]
    return sorted([*found, *kept], key=lambda a: (a.index, a.kind)) if kept else found


INTERMITTENT = 0.5  # a numeric series zero at more than this share of points is not judged


def judged_series(values: np.ndarray, *, held: bool = False) -> bool:
    """Whether a numeric series can be judged: not constant, and not mostly zero.

    ``held``: a change told before in it is held (``detect``'s ``told``), and
    it is judged while it is not constant, however often zero: a workflow
    built on about half of its days would otherwise be judged one day and
    not the next as the share of idle days crosses the bar, and what it told
    be taken back and told again with it.
    """
    if len(values) == 0 or float(np.ptp(values)) == 0.0:
        return False
    return held or not intermittent(values)


def judged_prefix(values: np.ndarray) -> int:
    """How many of the first points of a series not judged as a whole (``judged_series``) were
    judged as they arrived: the longest stretch from its start, not constant, that is not
    mostly zero up to its last point away from zero, with the zeros after that point; 0 where
    there is none, or where it is too short to judge (``MIN_PREFIX``).

    A workflow built every week for years that then ran a few times a year gives weekly
    totals zero at most points in all; judged whole, none of its years was judged, though
    each point of them was when it arrived. Its stretch up to the busy point that made it
    mostly zero is judged instead, as it was: every point is judged from the points before
    it (``baseline``), so what that stretch tells of its points is what was told then.
    """
    finite = np.nan_to_num(values)
    away = np.flatnonzero(finite != 0.0)
    if away.size == 0:
        return 0
    zero_share = (away - np.arange(away.size)) / (away + 1)  # zeros up to each busy point
    varied = np.maximum.accumulate(finite)[away] > np.minimum.accumulate(finite)[away]
    fits = np.flatnonzero((zero_share <= INTERMITTENT) & varied)
    if fits.size == 0:
        return 0
    last = int(fits[-1])
    end = int(away[last + 1]) if last + 1 < away.size else len(values)
    return end if MIN_PREFIX <= end < len(values) else 0


MIN_PREFIX = 30  # fewer first points than this are not judged on their own (``judged_prefix``)


def sporadic_series(values: np.ndarray) -> bool:
    """Whether a numeric series is intermittent but not constant: judged for spikes alone."""
    return intermittent(values) and float(np.ptp(values[np.isfinite(values)])) > 0.0


def intermittent(values: np.ndarray) -> bool:
    """Whether a numeric series is zero at more than ``INTERMITTENT`` of its points up to its
    last one away from zero.

    The zeros after that are left out: a series that stopped (a workflow no
    longer run, followed for weeks of zero) is judged on its habit before,
    so that the stop is told; counted in, they would soon make it mostly
    zero and not judged at all.
    """
    active = values[: active_length(values)]
    return len(active) > 0 and float(np.mean(active == 0.0)) > INTERMITTENT


def active_length(values: np.ndarray) -> int:
    """How many points up to the last one away from zero (all of them, where none is)."""
    away = np.flatnonzero(values != 0.0)
    return int(away[-1]) + 1 if away.size else len(values)


def episodes(found: list[Anomaly], tuning: Tuning, *, logged: bool = False) -> list[Anomaly]:
    """One alarm per episode.

    After a shift or drift, no other its way for a window of points, but a
    further change (``details["further"]``: judged against the level a
    shift moved to, ``further.Further``) or a stop (``details["stopped"]``:
    a fall to nothing is news after a fall part of the way). A spike
    its way from where such a change began to a window after its alarm is
    part of it, and told only when it is a spike against the level the series
    changed to (``stands_out``): the changed points follow the change, but a
    single point far beyond even them is an anomaly of its own. A spike
    within ``confirm`` points after another its way is the same one.
    ``logged``: the series was judged on ``log(1 + x)``.
    """
    changes = [a for a in found if a.kind in LASTING]
    kept: list[Anomaly] = []
    quiet = {True: -1, False: -1}
    last_spike = {True: -tuning.confirm - 1, False: -tuning.confirm - 1}
    for anomaly in found:
        up = anomaly.change >= 0
        if anomaly.kind == "spike":
            if anomaly.index - last_spike[up] <= tuning.confirm or any(
                (change.change >= 0) == up
                and change.start <= anomaly.timestamp
                and anomaly.index <= change.index + tuning.window
                and not stands_out(anomaly, change, tuning, logged=logged)
                for change in changes
            ):
                continue
            last_spike[up] = anomaly.index
        elif anomaly.index <= quiet[up] and not (
            anomaly.details.get("further") or anomaly.details.get("stopped")
        ):
            continue
        else:
            quiet[up] = anomaly.index + tuning.window
        kept.append(anomaly)
    return sorted(kept, key=lambda a: (a.timestamp, a.kind))


def _back_to(level: float, observed: float, min_relative: float) -> bool:
    """Whether ``observed`` is within ``min_relative`` of a positive ``level``, as a ratio."""
    return level > 0.0 and observed > 0.0 and ratio_size(level, observed) < min_relative


def stands_out(spike: Anomaly, change: Anomaly, tuning: Tuning, *, logged: bool = False) -> bool:
    """Whether ``spike`` passes the spike tests against the level ``change`` moved the series to.

    Its departure from that level must be at least ``spike_relative`` of the
    level, and, in the unit the series was judged in (``logged``: on
    ``log(1 + x)``), ``spike_z`` spreads (the spread the spike was judged
    with) and ``spike_tail`` times the series' own tail.
    """
    beyond = spike.observed - change.observed
    if spike.change * beyond <= 0.0 or abs(beyond) < tuning.spike_relative * abs(change.observed):
        return False
    judged = np.log1p if logged else np.asarray
    departure = abs(float(judged(spike.observed) - judged(spike.expected)))
    above = abs(float(judged(spike.observed) - judged(change.observed)))
    spread = departure / spike.score
    tail = float(spike.details.get("tail", 0.0))
    return above >= tuning.spike_z * spread and above > tuning.spike_tail * tail


def _unlogged(anomaly: Anomaly) -> Anomaly:
    """The anomaly in the series' own unit, its severity judged there."""
    expected, observed = float(np.expm1(anomaly.expected)), float(np.expm1(anomaly.observed))
    return replace(
        anomaly,
        expected=expected,
        observed=observed,
        severity=metric_severity(expected, observed),
    )
