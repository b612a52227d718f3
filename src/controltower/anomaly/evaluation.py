"""Recall and false alarms of the detectors on real series with anomalies put in them.

For each series the detectors judge (long enough, not constant, not mostly
zero) and kind, one anomaly is injected at a random place after enough
history for a baseline and two windows before the end of its active life
(for daily or weekly totals, the last point above zero: the zeros a
stopped workflow is followed with are not a place for a slowdown; for a
failure burst, where the failure rate before leaves room for its rise,
``injection.burst_places``), and the detectors run on the changed series.
An alarm is **true** when it is raised from the anomaly's first point to
``window`` points after its last (the time a lasting change takes to be
recognised); every other alarm is **false**, including those the series as
stored raises by itself: whether or not the real data holds a change there,
unless it was confirmed (below) nobody labelled it, and each such alarm
costs its reader attention. The false
alarms that coincide (same kind, a level shift and a drift counting as one,
within a third of a window) with one raised on the stored series are counted
apart as well (``on_stored``), to tell how many of them the real series
carries; so is one up to a window from a stored alarm of its kind that the
changed series no longer raises where it was (``redated``, each stored alarm
once): the stored series' own change, dated elsewhere because the injection
changed the points before it. An injected anomaly is **recalled**
when a true alarm of its kind is raised, and **found** when a true alarm of
any kind is (a drift told as a level shift is found, not recalled). Its
**delay** is how many points after the anomaly's first point the first true
alarm of its kind is raised (runs for durations and outcomes, days or weeks
for daily or weekly totals): how long a reader waits to hear of it.
``false_alarm_share`` (the figure of the interface) is the strict share:
false alarms over all alarms, those on the stored series included, since
nobody labelled them as anomalies;
``false_alarm_share_beyond_stored`` leaves the ``on_stored`` ones out of both.
Anomalies **known** to be present in the stored series (``known``: those
people confirmed as real, ``store.anomalies.confirmed_anomalies``) are left
out as the interface says: an alarm within a third of a window of one is
neither true nor false but counted as ``known_present``.

**Clear of the stored series' own changes** (``clear``, by kind, within
the four kinds and overall): the injections with no lasting change (level
shift, drift or failure burst) of the stored series from a window before
their first point to the end of the span their true alarms are counted in.
The stored series are real and unlabelled: where one changes by itself
beside an injection, the two changes are one shape to the detectors (a
step a dozen runs after another is a ramp, or the same step, larger), and
which of them an alarm tells is not known. That part of the trials is not
left out of any figure; it is reported apart so that what the detectors
miss beside the stored series' own changes is told from what they miss
where the injection is the only change.

**Stops** are measured apart (``stops``; not one of the interface's kinds,
and not in ``overall``): each series of daily or weekly totals is cut at a
random place and followed by the zeros a workflow that stopped there would
give (``tuning.followed_days`` of them, as the store reads it), and the
stop is recalled when a level shift down is raised in them. Its places are
drawn from a generator of their own, so the four kinds are placed as
without it.

**Busy-day rises** are measured apart too (``busy_rises``; not in
``overall``): each series of totals often idle (``detection.often_idle``)
has its busy points multiplied by 1.3 to 2 from a random place, the idle
ones staying zero (``injection.busy_rise``: what a dearer workflow gives,
where an injected level shift adds to every day), and the rise is recalled
when a level shift or drift up is raised from there to a window after; from
a generator of its own as well.

**Shuffled** (``shuffled_kinds``): each judged series is also judged with its
values in a random order (for totals, the points up to the last above zero),
without any injection. Such a series holds no lasting change, no burst and
no rhythm, so every level shift, drift or failure burst it raises is false
by construction; a spike may still be one of its real outliers. Set beside
what the stored series raise (``stored_kinds``), it tells the detectors' own
noise from the changes the real series hold, which nobody labelled. Its
orders come from a generator of their own too.
Pure: no I/O.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from controltower.anomaly.detection import active_length, detect, judged_series, often_idle
from controltower.anomaly.injection import Injected, burst_places, busy_rise, inject
from controltower.anomaly.model import KINDS, LASTING, Anomaly, Kind, Point, Series
from controltower.anomaly.tuning import Tuning, followed_days, for_series

NUMERIC_KINDS: tuple[Kind, ...] = ("spike", "level_shift", "drift")


@dataclass
class Tally:
    """Counts for one kind (or all): trials, recalled, found, and alarms by label.

    ``on_stored`` is the part of ``false_alarms`` that the stored series raises too, and
    ``redated`` the part of ``on_stored`` that it raises elsewhere (up to a window away, not
    at its own place); ``known_present`` the alarms at anomalies known to be present, in
    neither count;
    ``delays`` the delay, in points, of each recalled anomaly.
    """

    injected: int = 0
    recalled: int = 0
    found: int = 0
    true_alarms: int = 0
    false_alarms: int = 0
    on_stored: int = 0
    redated: int = 0
    known_present: int = 0
    delays: list[int] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.recalled / self.injected if self.injected else None

    @property
    def recall_interval(self) -> tuple[float, float] | None:
        """The 95% Wilson interval of the recall: each injection is one independent trial."""
        return wilson(self.recalled, self.injected) if self.injected else None

    @property
    def found_share(self) -> float | None:
        """The share of injected anomalies met by a true alarm of any kind."""
        return self.found / self.injected if self.injected else None

    @property
    def alarms(self) -> int:
        return self.true_alarms + self.false_alarms

    @property
    def false_alarm_share(self) -> float | None:
        """Strict: the share of all alarms that match no injected anomaly (stored ones included)."""
        return self.false_alarms / self.alarms if self.alarms else None

    @property
    def false_alarm_share_beyond_stored(self) -> float | None:
        """The share of alarms that were false, leaving out those the stored series raises too."""
        alarms = self.alarms - self.on_stored
        return (self.false_alarms - self.on_stored) / alarms if alarms else None

    def delay_quantile(self, q: float) -> float | None:
        """The ``q`` quantile of the recalled anomalies' delays, in points (None: none)."""
        return float(np.quantile(self.delays, q)) if self.delays else None

    def add(self, other: Tally) -> None:
        for name in vars(other):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        counts = {name: value for name, value in vars(self).items() if name != "delays"}
        return {
            **counts,
            "delay_median": self.delay_quantile(0.5),
            "delay_p90": self.delay_quantile(0.9),
            "alarms": self.alarms,
            "recall": self.recall,
            "recall_interval": self.recall_interval,
            "found_share": self.found_share,
            "false_alarm_share": self.false_alarm_share,
            "false_alarm_share_beyond_stored": self.false_alarm_share_beyond_stored,
        }


Z_95 = 1.959964  # the standard normal's 97.5th percentile


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial share (95% with the default ``z``).

    Unlike the normal approximation it stays inside 0 to 1 and is not
    degenerate at 0 or all successes, which small per-kind counts reach.
    """
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (z / (1 + z * z / trials)) * math.sqrt(
        share * (1 - share) / trials + z * z / (4 * trials * trials)
    )
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Evaluation:
    """Tallies per kind, per metric and overall, with how many series of each were judged.

    ``skipped`` counts per metric the series not judged (too short, constant,
    mostly zero, or, for outcomes, failing too often for a burst to rise from);
    ``stored_alarms`` and ``points`` the alarms raised on the
    judged series as stored, and their points; ``known`` the anomalies known
    to be present in them. ``stored_kinds`` and ``shuffled_kinds`` count per
    metric and kind the alarms of the judged series as stored and shuffled
    (within their active life), without any injection. ``clear`` tallies per kind the
    trials clear of the stored series' own lasting changes (``clear_of_stored``).
    """

    seed: int
    by_kind: dict[str, Tally] = field(default_factory=dict)
    stops: Tally = field(default_factory=Tally)
    busy_rises: Tally = field(default_factory=Tally)
    by_metric: dict[str, Tally] = field(default_factory=dict)
    series: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    stored_alarms: Counter[str] = field(default_factory=Counter)
    points: Counter[str] = field(default_factory=Counter)
    known: Counter[str] = field(default_factory=Counter)
    stored_kinds: dict[str, Counter[str]] = field(default_factory=dict)
    shuffled_kinds: dict[str, Counter[str]] = field(default_factory=dict)
    clear: dict[str, Tally] = field(default_factory=dict)

    @property
    def overall(self) -> Tally:
        return _total(self.by_kind.values())

    def add(self, kind: Kind, label: str, tally: Tally, *, clear: bool) -> None:
        """Count one trial of ``kind`` on a series of ``label`` (``clear``: of the stored
        series' own changes)."""
        self.by_kind[kind].add(tally)
        self.by_metric.setdefault(label, Tally()).add(tally)
        if clear:
            self.clear[kind].add(tally)

    @property
    def clear_overall(self) -> Tally:
        """The trials clear of the stored series' own changes, all kinds together."""
        return _total(self.clear.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "series": dict(self.series),
            "skipped": dict(self.skipped),
            "stored_alarms": dict(self.stored_alarms),
            "points": dict(self.points),
            "known": dict(self.known),
            "stored_kinds": {m: dict(c) for m, c in sorted(self.stored_kinds.items())},
            "shuffled_kinds": {m: dict(c) for m, c in sorted(self.shuffled_kinds.items())},
            "per_kind": {kind: t.as_dict() for kind, t in self.by_kind.items()},
            "per_metric": {metric: t.as_dict() for metric, t in sorted(self.by_metric.items())},
            "overall": self.overall.as_dict(),
            "stops": self.stops.as_dict(),
            "busy_rises": self.busy_rises.as_dict(),
            "clear_of_stored": {
                "per_kind": {kind: t.as_dict() for kind, t in self.clear.items()},
                "overall": self.clear_overall.as_dict(),
            },
        }


def _total(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


def evaluate(
    series: Sequence[Series],
    *,
    seed: int = 0,
    tuning: Tuning | None = None,
    trials_per_series: int = 1,
    known: Mapping[tuple[str, str], Sequence[datetime]] | None = None,
) -> Evaluation:
    """Inject each applicable kind into each series and tally what the detectors raise.

    ``known``: per series name and metric, when each anomaly known to be
    present was detected (``confirmed_anomalies``).
    """
    base = tuning or Tuning()
    rng = np.random.default_rng(seed)
    stop_rng = np.random.default_rng([seed, 1])
    order_rng = np.random.default_rng([seed, 2])
    busy_rng = np.random.default_rng([seed, 3])
    result = Evaluation(
        seed, {kind: Tally() for kind in KINDS}, clear={kind: Tally() for kind in KINDS}
    )
    for s in series:
        tuning = for_series(base, s.days_per_point, s.metric)  # weekly: a shorter window
        kinds = ("failure_burst",) if s.outcomes else NUMERIC_KINDS
        values = np.array([p.value for p in s.points], dtype=float)
        active = _active(values, s)
        lo, hi = _room(tuning, active, s.outcomes)
        places = burst_places(values, lo, hi, tuning) if s.outcomes else np.arange(lo, hi)
        if (
            not places.size
            or float(np.ptp(values)) == 0.0
            or not (s.outcomes or judged_series(values))
        ):
            result.skipped[s.label] += 1
            continue  # too short, constant, mostly zero or failing too often: nothing to leave
        result.series[s.label] += 1
        result.points[s.label] += len(values)
        stamps = [p.timestamp for p in s.points]
        present = _indices(stamps, (known or {}).get((s.name, s.metric), ()))
        result.known[s.label] += len(present)
        background = detect(s.points, tuning, outcomes=s.outcomes)
        result.stored_alarms[s.label] += len(background)
        stored = result.stored_kinds.setdefault(s.label, Counter())
        stored.update(a.kind for a in background if a.index < active)
        shuffled = np.concatenate([order_rng.permutation(values[:active]), values[active:]])
        reordered = [Point(t, float(v)) for t, v in zip(stamps, shuffled, strict=True)]
        result.shuffled_kinds.setdefault(s.label, Counter()).update(
            a.kind for a in detect(reordered, tuning, outcomes=s.outcomes) if a.index < active
        )
        for _ in range(trials_per_series):
            for kind in kinds:
                at = int(places[rng.integers(len(places))])
                changed, where = inject(kind, values, at, rng, tuning)
                points = [Point(t, float(v)) for t, v in zip(stamps, changed, strict=True)]
                alarms = detect(points, tuning, outcomes=s.outcomes)
                tally = score(kind, where.start, where.end, alarms, background, tuning, present)
                clear = clear_of_stored(where, background, tuning)
                result.add(kind, s.label, tally, clear=clear)
        if s.days_per_point:
            zeros = followed_days(s.days_per_point) // s.days_per_point
            for _ in range(trials_per_series):
                at = int(stop_rng.integers(lo, hi))  # at least two windows before the end
                kept = zip(stamps[:at], values[:at], strict=True)
                stopped = [Point(t, float(v)) for t, v in kept]
                stopped += [Point(t, 0.0) for t in stamps[at : at + zeros]]
                alarms = detect(stopped, tuning)
                end = at + zeros - 1
                result.stops.add(score_stop(at, end, alarms, background, tuning, present))
            if often_idle(values):
                for _ in range(trials_per_series):
                    at = int(busy_rng.integers(lo, hi))
                    changed = busy_rise(values, at, busy_rng)
                    points = [Point(t, float(v)) for t, v in zip(stamps, changed, strict=True)]
                    alarms = detect(points, tuning)
                    result.busy_rises.add(score_rise(at, alarms, background, tuning, present))
    return result


def clear_of_stored(where: Injected, background: Sequence[Anomaly], tuning: Tuning) -> bool:
    """Whether the stored series raises no lasting change (level shift, drift, failure burst)
    from a window before ``where`` began to the end of the span its true alarms are counted
    in."""
    first, last = where.start - tuning.window, where.end + _reach(where.kind, tuning)
    return not any(
        first <= b.index <= last for b in background if b.kind in (*LASTING, "failure_burst")
    )


def _reach(kind: Kind, tuning: Tuning) -> int:
    """How many points after an anomaly's last one an alarm still tells it."""
    return tuning.burst_window if kind == "failure_burst" else tuning.window


def score_stop(
    at: int,
    end: int,
    alarms: Sequence[Anomaly],
    background: Sequence[Anomaly],
    tuning: Tuning,
    present: Sequence[int] = (),
) -> Tally:
    """Label the alarms of a series whose points from ``at`` to ``end`` are the zeros of a stop.

    Every alarm in the zeros is true; the stop is recalled by a fall there (a
    level shift or drift down: a stop, or the change detector's own), its
    delay counted from ``at``.
    """
    tally = score("level_shift", at, end, alarms, background, tuning, present)
    falls = [
        a.index - at for a in alarms if at <= a.index <= end and a.kind in LASTING and a.change < 0
    ]
    tally.recalled, tally.delays = (1, [min(falls)]) if falls else (0, [])
    return tally


def score_rise(
    at: int,
    alarms: Sequence[Anomaly],
    background: Sequence[Anomaly],
    tuning: Tuning,
    present: Sequence[int] = (),
) -> Tally:
    """Label the alarms of a series whose busy points rose from ``at`` on: every alarm from
    there to a window after is true, and the rise is recalled by a level shift or drift up
    among them, its delay counted from ``at``."""
    tally = score("level_shift", at, at, alarms, background, tuning, present)
    rises = [
        a.index - at
        for a in alarms
        if at <= a.index <= at + tuning.window and a.kind in LASTING and a.change > 0
    ]
    tally.recalled, tally.delays = (1, [min(rises)]) if rises else (0, [])
    return tally


def _same(stored: Anomaly, alarm: Anomaly) -> bool:
    """Whether ``alarm`` may be the stored series' own ``stored``: the same kind, or both
    lasting changes (a shift of the stored series is told as a drift, or the other way, when
    the points the kind is judged on after its alarm hold an injection)."""
    return stored.kind == alarm.kind or {stored.kind, alarm.kind} <= set(LASTING)


def _indices(stamps: Sequence[datetime], times: Sequence[datetime]) -> list[int]:
    """Where in the series each of ``times`` falls: its first point at or after it."""
    return [i for i in (bisect_left(stamps, t) for t in times) if i < len(stamps)]


def _active(values: np.ndarray, s: Series) -> int:
    """How many points of ``s`` are its active life: for totals, up to the last above zero (the
    zeros after are a workflow that stopped, followed; nothing can change there)."""
    return active_length(values) if s.days_per_point else len(values)


def _room(tuning: Tuning, n: int, outcomes: bool) -> tuple[int, int]:
    """The places an anomaly may start: after a baseline's history, before the end."""
    if outcomes:
        return tuning.burst_reference + tuning.burst_window, n - 2 * tuning.burst_window
    return 2 * tuning.window, n - 2 * tuning.window


def score(
    kind: Kind,
    start: int,
    end: int,
    alarms: Sequence[Anomaly],
    background: Sequence[Anomaly],
    tuning: Tuning,
    present: Sequence[int] = (),
) -> Tally:
    """Label the alarms of one trial against the injected anomaly and the stored series' own.

    ``present``: the points of anomalies known to be present in the stored series.
    """
    tally = Tally(injected=1)
    reach = _reach(kind, tuning)
    near = max(1, tuning.window // 3)
    moved = [
        b
        for b in background
        if not any(_same(b, a) and abs(a.index - b.index) <= near for a in alarms)
    ]  # stored alarms the changed series no longer raises at their own place
    for alarm in alarms:
        if start <= alarm.index <= end + reach:
            tally.true_alarms += 1
            tally.found = 1
            if alarm.kind == kind:
                tally.recalled = 1
                tally.delays = [min([alarm.index - start, *tally.delays])]
        elif any(abs(at - alarm.index) <= near for at in present):
            tally.known_present += 1
        else:
            tally.false_alarms += 1
            if any(_same(b, alarm) and abs(b.index - alarm.index) <= near for b in background):
                tally.on_stored += 1
            elif (b := _redated(alarm, moved, tuning.window)) is not None:
                moved.remove(b)  # each stored alarm re-dated once
                tally.on_stored += 1
                tally.redated += 1
    return tally


def _redated(alarm: Anomaly, moved: Sequence[Anomaly], window: int) -> Anomaly | None:
    """The nearest stored alarm of ``alarm``'s kind up to ``window`` points from it that the
    changed series no longer raises at its own place (``moved``): ``alarm`` is that one, dated
    elsewhere. None where there is none."""
    candidates = [b for b in moved if _same(b, alarm) and abs(b.index - alarm.index) <= window]
    return min(candidates, key=lambda b: abs(b.index - alarm.index), default=None)
