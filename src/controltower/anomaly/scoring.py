"""How the alarms of one trial are labelled, against the injected anomaly and the stored series.

An alarm is **true** when it is raised from the anomaly's first point to
``window`` points after its last (the time a lasting change takes to be
recognised; ``burst_window`` runs for a burst); every other alarm is
**false**, including those the series as stored raises by itself: whether
or not the real data holds a change there, unless it was confirmed (below)
nobody labelled it, and each such alarm costs its reader attention. The
false alarms that coincide (same kind, a level shift and a drift counting
as one, within a third of a window) with one raised on the stored series
are counted apart as well (``on_stored``), to tell how many of them the
real series carries; so is one up to a window from a stored alarm of its
kind that the changed series no longer raises where it was (``redated``,
each stored alarm once): the stored series' own change, dated elsewhere
because the injection changed the points before it. An injected anomaly is
**recalled** when a true alarm of its kind is raised, and **found** when a
true alarm of any kind is (a drift told as a level shift is found, not
recalled). Its **delay** is how many points after the anomaly's first
point the first true alarm of its kind is raised (runs for durations and
outcomes, days or weeks for daily or weekly totals): how long a reader
waits to hear of it. ``false_alarm_share`` (the figure of the interface) is
the strict share: false alarms over all alarms, those on the stored series
included, since nobody labelled them as anomalies;
``false_alarm_share_beyond_stored`` leaves the ``on_stored`` ones out of
both. Anomalies **known** to be present in the stored series (those people
confirmed as real, ``store.anomalies.confirmed_anomalies``) are left out as
the interface says: an alarm within a third of a window of one is neither
true nor false but counted as ``known_present``. A trial is **clear of the
stored series' own changes** when the stored series raises no level shift,
drift or burst from a window before the injection to the end of the span
its true alarms are counted in (``clear_of_stored``).
Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from controltower.anomaly.injection import Injected
from controltower.anomaly.model import LASTING, Anomaly, Kind
from controltower.anomaly.tuning import Tuning


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
    return _recalled_by_lasting(tally, alarms, at, end, rising=False)


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
    return _recalled_by_lasting(tally, alarms, at, at + tuning.window, rising=True)


def _recalled_by_lasting(
    tally: Tally, alarms: Sequence[Anomaly], at: int, last: int, *, rising: bool
) -> Tally:
    """``tally`` recalled by the first level shift or drift ``rising`` (else falling) alarmed
    from ``at`` to ``last``, its delay counted from ``at``; not recalled where none is."""
    delays = [
        a.index - at
        for a in alarms
        if at <= a.index <= last
        and a.kind in LASTING
        and (a.change > 0 if rising else a.change < 0)
    ]
    tally.recalled, tally.delays = (1, [min(delays)]) if delays else (0, [])
    return tally


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


def _same(stored: Anomaly, alarm: Anomaly) -> bool:
    """Whether ``alarm`` may be the stored series' own ``stored``: the same kind, or both
    lasting changes (a shift of the stored series is told as a drift, or the other way, when
    the points the kind is judged on after its alarm hold an injection)."""
    return stored.kind == alarm.kind or {stored.kind, alarm.kind} <= set(LASTING)
