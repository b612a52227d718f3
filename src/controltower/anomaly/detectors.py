"""Spikes, lasting level shifts and gradual drifts in a numeric series.

Every point is judged against the robust baseline of the points before it
(``baseline``) as a robust z-score. A **spike** is a point far outside normal
that the next few points do not follow. A **lasting change** is found by a
two-sided CUSUM (Page, 1954) over z-scores clipped so that no single outlier
can raise it alone; where it crosses its threshold, the change began just
after it last stood at zero. Real series wander: neighbouring z-scores are
correlated, and a sum of correlated scores strays further than one of
independent ones, so the scores are divided by the long-run inflation of an
AR(1) process, sqrt((1 + r) / (1 - r)), with the lag-one autocorrelation of
the scores before them, before they are summed. The change is then told apart by two least-squares
fits of what followed: a step (a **level shift**) and a ramp of at least half
a window that rises to a plateau (a **drift**); it is a drift when the ramp
saves a given number of points' worth of the step's error, or fits better
while the series still moves its way after the alarm. While the trailing
baseline catches up after a level shift, a **further change** either way
is summed against the level the shift moved to (that of its points before
a second step among them), so that a second step soon after the first
(further on, or back) is not absorbed unseen; but a further level shift the
same way, where the first was a drift as judged later and no second step lies
between, is that drift going on, told once. A crossing whose change is too
small to tell holds nothing: the sums start anew from the next point.
Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from controltower.anomaly.baseline import (
    LEVEL_FLOOR,
    MAD_TO_SD,
    NO_SPREAD,
    Array,
    Baseline,
    row_mads,
)
from controltower.anomaly.model import Anomaly, Kind, Told
from controltower.anomaly.severity import metric_severity, peak_severity, ratio_size
from controltower.anomaly.tuning import Tuning, hold_bars

MAX_AUTOCORRELATION = 0.8
INFLATION_EVERY, INFLATION_SPAN, INFLATION_MIN, INFLATION_FEWEST = 10, 500, 30, 10
# The shape test's defaults, from the tuning's: the running median's width, and how many points'
# worth of a step's mean squared error a ramp must save to be a drift by its shape alone.
SMOOTH, EVIDENCE = Tuning().smooth, Tuning().drift_evidence
# A change is still under way when the points after its alarm move this share of it its way.
STILL_MOVING = 0.05
# A second step among the points a shift settles on: its levels this many spreads apart.
STEP_SPREADS = 4.0
# ... and the two levels fit with at most this share of a straight line's squared error.
STEP_OVER_LINE = 0.5


def z_scores(values: Array, baseline: Baseline) -> Array:
    """How many normal spreads each point lies from its baseline (``nan`` without one)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (values - baseline.center) / baseline.scale


def _allowed(tuning: Tuning, sign: int) -> bool:
    return tuning.direction == "both" or (tuning.direction == "up") == (sign > 0)


def tail_excess(values: Array, baseline: Baseline, at: int, sign: int, tuning: Tuning) -> float:
    """How far past normal the series' own tail reaches before ``at`` (``nan``: too little known).

    The departures from the baseline of the ``tail_window`` points before
    ``at`` are taken in the spike's direction, and their ``tail_quantile``
    returned: on a heavy-tailed series (queue times, counts per day) it is
    far wider than the robust spread says.
    """
    lo = max(0, at - tuning.tail_window)
    departures = sign * (values[lo:at] - baseline.center[lo:at])
    departures = departures[np.isfinite(departures)]
    if departures.size < tuning.min_history:
        return float("nan")
    return max(float(np.quantile(departures, tuning.tail_quantile)), 0.0)


def detect_spikes(
    timestamps: Sequence[datetime], values: Array, baseline: Baseline, tuning: Tuning
) -> list[Anomaly]:
    """Points beyond ``spike_z`` and ``spike_tail`` times the tail that the next do not follow.

    At most half of the next ``confirm`` points may follow it: be beyond
    ``spike_z / 2`` and at least ``follow_share`` of its departure from
    normal (on a heavy-tailed series, points a few spreads out are common
    and do not make a point ten times as far out the start of a change).
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
        if not _allowed(tuning, sign):
            continue
        after = z[i + 1 : i + 1 + tuning.confirm]
        departure = sign * (values[i] - baseline.center[i])
        reach = sign * (values[i + 1 : i + 1 + tuning.confirm] - baseline.center[i])
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
        if abs(zi) < tuning.spike_z or not _allowed(tuning, sign):
            i += 1
            continue
        center, scale = float(baseline.center[i]), float(baseline.scale[i])
        held = sign * (values[i:] - center) / scale  # against the baseline where it began
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
            if times > tuning.sporadic_peak and _allowed(tuning, sign):
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


def trailing_inflation(z: Array, clip: float = np.inf, lag: int = 0) -> Array:
    """Per point, how much wider sums of the scores before it stray than sums of independent ones.

    The lag-one autocorrelation *r* of an AR(1) process satisfies
    var(z[t] - z[t-1]) = 2 (1 - r) var(z), and its sums stray
    sqrt((1 + r) / (1 - r)) times as wide; both spreads are taken as MADs of
    the scores within ``clip``, so outliers and the few large steps being
    looked for (one large difference each) move it little. It is 1 with
    fewer than ``INFLATION_FEWEST`` such scores.

    The scores are the ``INFLATION_SPAN`` that end ``lag`` points before,
    judged from earlier points only, so that appending points never changes
    how an earlier one was summed; recomputed every ``INFLATION_EVERY`` points.
    Leaving out the last ``lag`` points keeps a change under way (whose
    scores rise together) from inflating the sums that should find it; until
    ``INFLATION_MIN`` scores lie that far back, all earlier scores are used
    (early in a series a change in them is rare, and scores past the clip,
    as those of a sudden step are, count for nothing).
    """
    ats = np.arange(0, len(z), INFLATION_EVERY)
    kept = np.isfinite(z) & (np.abs(z) < clip)
    where = np.flatnonzero(kept)
    scores = z[kept]
    first = np.searchsorted(where, np.maximum(0, ats - lag - INFLATION_SPAN))
    last = np.searchsorted(where, np.maximum(0, ats - lag))
    near = last - first < INFLATION_MIN
    first = np.where(near, np.searchsorted(where, np.maximum(0, ats - INFLATION_SPAN)), first)
    last = np.where(near, np.searchsorted(where, ats), last)
    spread = row_mads(_ranges(scores, first, last))
    steps = row_mads(_ranges(np.diff(scores), first, np.maximum(first, last - 1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(1.0 - (steps / spread) ** 2 / 2.0, 0.0, MAX_AUTOCORRELATION)
    few = (last - first < INFLATION_FEWEST) | ~(spread > 0.0)
    each = np.where(few, 1.0, np.sqrt((1 + r) / (1 - r)))
    return np.repeat(each, INFLATION_EVERY)[: len(z)]


def _ranges(values: Array, first: NDArray[np.int_], last: NDArray[np.int_]) -> Array:
    """One row per range: ``values[first:last]``, padded with ``nan`` to ``INFLATION_SPAN``."""
    index = first[:, None] + np.arange(INFLATION_SPAN)[None, :]
    inside = index < last[:, None]
    padded = np.append(values, np.nan)
    return np.where(inside, padded[np.minimum(index, len(values))], np.nan)


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
    is looked for, except a further one either way after a level shift
    (``_Further``, one watch per direction; the first to cross is told, and
    is watched after in turn).
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
    further: list[_Further] = []
    settling: _Settling | None = None
    for i in range(len(values)):
        if i < resume:
            more, further = _Further.step_all(
                further, timestamps, values, baseline, tuning, float(scale[i]), i
            )
            if (
                more is not None
                and settling is not None
                and _one_ramp(values, baseline, tuning, settling, more)
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
                until = _before_second_step(values, baseline, tuning, i)
                change = _change(timestamps, values, baseline, tuning, start, i, until=until)
                bars = hold_bars(tuning) if change.told in told else tuning
                if (
                    _moved_after(values, baseline, bars, start, i, change)
                    or _too_small(change, bars)
                    or _unranked(values, baseline, bars, start, i, change, until)
                ):
                    sums, starts = {1: 0.0, -1: 0.0}, {1: None, -1: None}
                    break
                if _allowed(tuning, sign):
                    at = len(found)
                    settling = _Settling.of(timestamps, values, baseline, tuning, change, start, at)
                    found.append(change)
                resume = i + tuning.window
                if change.kind == "level_shift" and tuning.further:
                    further = _Further.both_ways(values, baseline, tuning, i, until)
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
        z = raw[i] if held is None else _held_z(values, baseline, level, held, i)
        sums[sign], starts[sign] = _summed(sums[sign], held, sign * z, float(scale[i]), tuning, i)


def _summed(
    total: float, start: int | None, z: float, scale: float, tuning: Tuning, i: int
) -> tuple[float, int | None]:
    """One CUSUM step: the sum after adding score ``z`` at point ``i``, and where it began."""
    total = max(0.0, total + _clipped(z, tuning) / scale - tuning.cusum_k)
    if total == 0.0:
        return total, None
    return total, i if start is None else start


@dataclass(frozen=True, slots=True)
class _Settling:
    """A change whose kind, judged on ``kind_after`` points after its alarm, differs (``later``).

    It replaces the change told at ``position`` once the window after the
    alarm is over without a further change (a second step soon after a first
    makes the two look like a ramp, and they are two shifts); until then, as
    at the end of a series still being recorded, the first kind stands, so a
    recorded change is re-labelled at most once (with ``kind_after`` at most
    a window, as by default: beyond it the later look may still be short).
    """

    later: Anomaly
    position: int

    @classmethod
    def of(
        cls,
        timestamps: Sequence[datetime],
        values: Array,
        baseline: Baseline,
        tuning: Tuning,
        change: Anomaly,
        start: int,
        position: int,
    ) -> _Settling | None:
        """The change (from ``start``) told at ``position`` as judged later (None: the same)."""
        if tuning.kind_after <= tuning.classify_after:
            return None
        longer = replace(tuning, classify_after=tuning.kind_after)
        judged = _change(timestamps, values, baseline, longer, start, change.index)
        if judged.kind == change.kind:
            return None
        details = {**change.details, "classified_at": judged.details["classified_at"]}
        return cls(replace(change, kind=judged.kind, details=details), position)


@dataclass(slots=True)
class _Further:
    """A further change one way (``sign``) after a level shift, while the baseline catches up.

    From ``further_after`` points after the shift's alarm to the end of its
    window, points are scored against the level the shift moved to
    (``reference``: the median of those points, the rhythm removed) and its
    spread (their MAD, at least ``LEVEL_FLOOR`` of the level and the
    baseline's calmest spread in the window before the alarm), and summed by
    the same CUSUM; crossing its threshold is a further change, told with
    ``details["further"]``. Where a second step among those points began
    (``second_step``), the level is that of the points before it (from
    ``settled_from`` to ``begin``), and once all of them are known the sum
    catches up from ``begin`` (``summed``: how far it got). A further
    change that is a level shift is watched the same way
    (``further_chain``): a series that steps up in stages is told at every
    stage, not only at the first two.
    """

    sign: int
    reference: float
    spread: float
    settled_from: int
    begin: int
    total: float = 0.0
    start: int | None = None
    summed: int = 0

    @classmethod
    def both_ways(
        cls, values: Array, baseline: Baseline, tuning: Tuning, alarm: int, until: int | None
    ) -> list[_Further]:
        """The watches, on and back, after the shift alarmed at ``alarm`` (none: no room);
        ``until``: where a second step among its settled points begins (``_before_second_step``).
        """
        watches = (cls.after(values, baseline, tuning, sign, alarm, until) for sign in (1, -1))
        return [watch for watch in watches if watch is not None]

    @classmethod
    def after(
        cls,
        values: Array,
        baseline: Baseline,
        tuning: Tuning,
        sign: int,
        alarm: int,
        until: int | None,
    ) -> _Further | None:
        """The watch for a further change after the shift alarmed at ``alarm`` (None: no room)."""
        begin = alarm + 1 + tuning.further_after
        settled = values[alarm + 1 : begin] - baseline.profile[alarm + 1 : begin]
        before = baseline.scale[max(0, alarm - tuning.window) : alarm + 1]
        if settled.size < _fewest_settled(tuning) or not np.isfinite(before).any():
            return None
        level = settled[: (until or begin) - alarm - 1]
        reference = float(np.median(level))
        spread = MAD_TO_SD * float(np.median(np.abs(level - reference)))
        floor = max(LEVEL_FLOOR * abs(reference), float(np.nanmin(before)), 1e-9)
        return cls(sign, reference, max(spread, floor), alarm + 1, alarm + 1 + level.size)

    @staticmethod
    def step_all(
        watches: list[_Further],
        timestamps: Sequence[datetime],
        values: Array,
        baseline: Baseline,
        tuning: Tuning,
        scale: float,
        i: int,
    ) -> tuple[Anomaly | None, list[_Further]]:
        """Point ``i`` added to each watch: the first further change told there (None: none),
        and the watches from then on (after a further level shift, its own: ``further_chain``).
        """
        for watch in watches:
            more = watch.step(timestamps, values, baseline, tuning, scale, i)
            if more is not None:
                if more.kind != "level_shift" or not tuning.further_chain:
                    return more, []
                until = _before_second_step(values, baseline, tuning, i)
                return more, _Further.both_ways(values, baseline, tuning, i, until)
        return None, watches

    def step(
        self,
        timestamps: Sequence[datetime],
        values: Array,
        baseline: Baseline,
        tuning: Tuning,
        scale: float,
        i: int,
    ) -> Anomaly | None:
        """Add point ``i`` (``scale``: the autocorrelation inflation the scores are divided by);
        the further change, when the sum crosses the threshold there."""
        if i < self.settled_from + tuning.further_after or not np.isfinite(values[i]):
            return None  # the level it settled at is known once its points are
        crossed = False
        for j in range(max(self.begin, self.summed), i + 1):  # a second step among them: caught up
            self.summed = j + 1
            if not np.isfinite(values[j]):
                continue
            z = (float(values[j] - baseline.profile[j]) - self.reference) / self.spread
            added = self.sign * _clipped(z, tuning) / scale - tuning.cusum_k
            self.total = max(0.0, self.total + added)
            self.start = None if self.total == 0.0 else (j if self.start is None else self.start)
            crossed = self.total > tuning.cusum_h
            if crossed:
                break
        if not crossed or self.start is None or not _allowed(tuning, self.sign):
            return None
        settled = (self.settled_from, self.reference)
        change = _change(timestamps, values, baseline, tuning, self.start, i, settled)
        expected = self.reference + float(baseline.profile[self.start])
        return replace(
            change,
            expected=expected,
            score=abs(change.observed - expected) / self.spread,
            severity=metric_severity(expected, change.observed),
            details={**change.details, "further": True},
        )


def _moved_after(
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


def _unranked(
    values: Array,
    baseline: Baseline,
    tuning: Tuning,
    start: int,
    alarm: int,
    change: Anomaly,
    until: int | None,
) -> bool:
    """Whether the points the change is judged on (from its start to ``classify_after`` after
    its alarm, as ``_change`` takes them) do not stand apart by rank from the ``window`` points
    before its start: a one-sided Mann-Whitney test, its way, at ``rank_alpha``.

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


def _one_ramp(
    values: Array, baseline: Baseline, tuning: Tuning, settling: _Settling, more: Anomaly
) -> bool:
    """Whether a further level shift the same way as the shift before it is that shift going
    on: the shift, judged again on ``kind_after`` points, is a drift (``settling``), and its
    points from its alarm to ``further_after`` points after the further one hold no second step
    (two steps are two shifts; a further change judged a drift is a ramp after a step)."""
    first = settling.later
    if not tuning.further_ramp or first.kind != "drift" or more.kind != "level_shift":
        return False
    if (first.change >= 0) != (more.change >= 0):
        return False
    end = min(len(values), more.index + 1 + tuning.further_after)
    return _points_before_step(values, baseline, tuning, first.index, end) == end - first.index - 1


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


def _too_small(change: Anomaly, tuning: Tuning) -> bool:
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


def _fewest_settled(tuning: Tuning) -> int:
    """The fewest points after a shift's alarm its settled level is taken from."""
    return max(2, min(tuning.further_after, tuning.min_history // 2))


def _before_second_step(
    values: Array, baseline: Baseline, tuning: Tuning, alarm: int
) -> int | None:
    """Where a second step begins among the points a shift alarmed at ``alarm`` settles on
    (None: none, or not looked for).

    The first change is then judged on the points before it (two steps are
    no ramp), and the second summed from it as a further change.
    """
    if not (tuning.further and tuning.further_second_step):
        return None
    end = min(len(values), alarm + 1 + tuning.further_after)
    kept = _points_before_step(values, baseline, tuning, alarm, end)
    return alarm + 1 + kept if kept is not None and kept < end - alarm - 1 else None


def _points_before_step(
    values: Array, baseline: Baseline, tuning: Tuning, alarm: int, end: int
) -> int | None:
    """How many of the points after ``alarm``, up to ``end``, precede a second step among them
    (all of them: none; None: too few, not all known, or no spread known before the alarm)."""
    settled = values[alarm + 1 : end] - baseline.profile[alarm + 1 : end]
    before = baseline.scale[max(0, alarm - tuning.window) : alarm + 1]
    fewest = _fewest_settled(tuning)
    if settled.size < fewest or not np.isfinite(settled).all() or not np.isfinite(before).any():
        return None
    return second_step(settled, fewest // 2, float(np.nanmin(before)))


def second_step(settled: Array, shortest: int, spread: float) -> int:
    """How many of the ``settled`` points precede a second step among them (all: none).

    The best split into two levels (least squares), each of at least
    ``shortest`` points, is a step when the levels (their medians) differ by
    ``STEP_SPREADS`` of the larger of their pooled spread and ``spread``,
    and the two fit with at most ``STEP_OVER_LINE`` of a straight line's
    squared error (points still rising, a drift going on, are no second
    step): a further change that began before the level could settle, which
    the level of all the points would half absorb.
    """
    n = settled.size
    splits = np.arange(shortest, n - shortest + 1)
    if splits.size == 0:
        return n
    sums, squares = np.cumsum(settled), np.cumsum(settled * settled)
    left = squares[splits - 1] - sums[splits - 1] ** 2 / splits
    right_sums = sums[-1] - sums[splits - 1]
    right = squares[-1] - squares[splits - 1] - right_sums**2 / (n - splits)
    errors = left + right  # each side's squared error about its mean
    best, at = float(np.min(errors)), int(splits[np.argmin(errors)])
    first, second = settled[:at], settled[at:]
    within = MAD_TO_SD * float(
        np.median(np.abs(np.concatenate([first - np.median(first), second - np.median(second)])))
    )
    gap = abs(float(np.median(second) - np.median(first)))
    t = np.arange(n, dtype=float) - (n - 1) / 2
    centred = settled - float(np.mean(settled))
    line = float(centred @ centred - (t @ centred) ** 2 / (t @ t))  # a straight line's error
    stepped = best <= STEP_OVER_LINE * line
    return at if stepped and gap >= STEP_SPREADS * max(within, spread) else n


def _held_z(values: Array, baseline: Baseline, level: Array, held: int, i: int) -> float:
    """The score of point ``i`` against the baseline as it was at point ``held``."""
    return float((values[i] - baseline.profile[i] - level[held]) / baseline.scale[held])


def _clipped(z: float, tuning: Tuning) -> float:
    return min(max(float(z), -tuning.clip), tuning.clip)


def _change(
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


def classify_change(
    residual: Array,
    min_ramp: int,
    alarm_at: int,
    *,
    evidence: float = EVIDENCE,
    smooth: int = SMOOTH,
) -> Kind:
    """``drift`` when a ramp fits a change better than a step, and clearly so or while it goes on.

    The shape: the residual is smoothed by a running median of ``smooth``
    points (so single outliers of a heavy-tailed series do not decide) and
    fitted, least squares with the best size, by a step and by a ramp to a
    plateau, both beginning anywhere but in the last points (where the change
    began is only estimated), the ramp of at least ``min_ramp`` points and
    free to run on past the stretch (a drift noticed early has not levelled
    off yet). A rise quicker than ``min_ramp`` points is a step as the
    detectors see it, and a ramp allowed to be that short copies a step and
    wins on noise alone wherever the series wandered before. A ramp that
    saves at least ``evidence`` points' worth of the step's mean squared
    error (the step's error over the stretch's length) is a drift: how much
    better the ramp must fit does not grow with the stretch, most of which
    is flat before and after the change. One that fits only somewhat better
    is a drift when the series still moves the change's way after the alarm
    (point ``alarm_at`` of the residual, ``still_moving``): after a step it
    is flat, however it wandered before.
    """
    raw = np.asarray(residual, dtype=float)
    r = running_median(raw, smooth)
    n = len(r)
    if n < 6:
        return "level_shift"
    t = np.arange(n, dtype=float)
    steps = (t[None, :] >= np.arange(0, n - 3, dtype=float)[:, None]).astype(float)
    stride = 1 + n // 60  # ramps: from every point on short stretches, every few on long ones
    shortest = max(3, min_ramp)
    begins = np.arange(0, n - 3, stride, dtype=float)
    lengths = np.arange(shortest, shortest + 2 * n + 1, stride, dtype=float)
    ramps = np.clip(
        (t[None, None, :] - begins[:, None, None] + 1) / lengths[None, :, None], 0.0, 1.0
    ).reshape(-1, n)
    step_error = _best_error(steps, r)
    ramp_error = _best_error(ramps, r)
    if ramp_error >= step_error:
        return "level_shift"
    clear = step_error - ramp_error >= evidence * step_error / n
    return "drift" if clear or still_moving(raw, alarm_at) else "level_shift"


def still_moving(residual: Array, alarm_at: int) -> bool:
    """Whether the points from ``alarm_at`` on rise (or fall) by ``STILL_MOVING`` of the change.

    The change is the median of the last ``SMOOTH`` * 2 points; the motion
    the Theil-Sen slope (the median of the slopes between every two points,
    which outliers do not tilt) times the number of points.
    """
    after = residual[max(0, alarm_at) :]
    change = float(np.median(residual[-2 * SMOOTH :]))
    if after.size < SMOOTH or change == 0.0:
        return False
    i, j = np.triu_indices(after.size, 1)
    slope = float(np.median((after[j] - after[i]) / (j - i)))
    return bool(slope * after.size * np.sign(change) >= STILL_MOVING * abs(change))


def running_median(values: Array, width: int) -> Array:
    """Each point replaced by the median of the ``width`` points around it (fewer at the ends)."""
    half = width // 2
    padded = np.pad(values, half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)[: len(values)]


def _best_error(shapes: Array, r: Array) -> float:
    """The least squared error of ``r`` against any of ``shapes`` times its best factor."""
    weight = np.sum(shapes * shapes, axis=1)
    factor = np.where(weight > 0, (shapes @ r) / np.where(weight > 0, weight, 1.0), 0.0)
    errors = np.sum((r[None, :] - factor[:, None] * shapes) ** 2, axis=1)
    return float(np.min(errors))
