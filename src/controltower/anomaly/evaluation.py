"""Recall and false alarms of the detectors on real series with anomalies put in them.

For each series the detectors judge (long enough, not constant, not mostly
zero) and kind, one anomaly is injected at a random place after enough
history for a baseline and two windows before the end of its active life
(for daily or weekly totals, the last point above zero: the zeros a
stopped workflow is followed with are not a place for a slowdown; for a
failure burst, where the failure rate before leaves room for its rise,
``injection.burst_places``), and the detectors run on the changed series.
Its alarms are labelled as ``scoring`` says (true, false, on the stored
series, re-dated; recalled, found, delay).

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

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from controltower.anomaly.detection import active_length, detect, judged_series, often_idle
from controltower.anomaly.injection import burst_places, busy_rise, inject
from controltower.anomaly.model import KINDS, Kind, Point, Series
from controltower.anomaly.scoring import Tally, clear_of_stored, score, score_rise, score_stop
from controltower.anomaly.tuning import Tuning, followed_days, for_series

NUMERIC_KINDS: tuple[Kind, ...] = ("spike", "level_shift", "drift")


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
