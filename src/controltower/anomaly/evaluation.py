"""Recall and false alarms of the detectors on real series with anomalies put in them.

For each series (long enough, and not constant) and kind, one anomaly is
injected at a random place after enough history for a baseline, and the
detectors run on the changed series.
An alarm is **true** when it is raised from the anomaly's first point to
``window`` points after its last (the time a lasting change takes to be
recognised). Real series have anomalies of their own, which nobody labelled:
an alarm of the same kind within a third of a window of one raised on the
series as stored is **unlabelled** and counted apart; any other alarm is
**false**. An injected anomaly is **recalled** when a true alarm of its kind
is raised. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from controltower.anomaly.detection import detect
from controltower.anomaly.injection import inject
from controltower.anomaly.model import KINDS, Anomaly, Kind, Point, Series
from controltower.anomaly.tuning import Tuning

NUMERIC_KINDS: tuple[Kind, ...] = ("spike", "level_shift", "drift")


@dataclass
class Tally:
    """Counts for one kind (or all): trials, recalled, and alarms by label."""

    injected: int = 0
    recalled: int = 0
    true_alarms: int = 0
    false_alarms: int = 0
    unlabelled: int = 0

    @property
    def recall(self) -> float | None:
        return self.recalled / self.injected if self.injected else None

    @property
    def false_share(self) -> float | None:
        """Share of labelled alarms (true or false) that were false."""
        labelled = self.true_alarms + self.false_alarms
        return self.false_alarms / labelled if labelled else None

    @property
    def false_share_strict(self) -> float | None:
        """Share of all alarms that were not true, counting unlabelled ones as false."""
        alarms = self.true_alarms + self.false_alarms + self.unlabelled
        return (self.false_alarms + self.unlabelled) / alarms if alarms else None

    def add(self, other: Tally) -> None:
        for name in ("injected", "recalled", "true_alarms", "false_alarms", "unlabelled"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        return {
            **vars(self),
            "recall": self.recall,
            "false_share": self.false_share,
            "false_share_strict": self.false_share_strict,
        }


@dataclass
class Evaluation:
    """Tallies per kind and overall, with how many series and of which metrics."""

    seed: int
    by_kind: dict[str, Tally] = field(default_factory=dict)
    series: Counter[str] = field(default_factory=Counter)

    @property
    def overall(self) -> Tally:
        total = Tally()
        for tally in self.by_kind.values():
            total.add(tally)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "series": dict(self.series),
            "kinds": {kind: t.as_dict() for kind, t in self.by_kind.items()},
            "overall": self.overall.as_dict(),
        }


def evaluate(
    series: Sequence[Series],
    *,
    seed: int = 0,
    tuning: Tuning | None = None,
    trials_per_series: int = 1,
) -> Evaluation:
    """Inject each applicable kind into each series and tally what the detectors raise."""
    tuning = tuning or Tuning()
    rng = np.random.default_rng(seed)
    result = Evaluation(seed, {kind: Tally() for kind in KINDS})
    for s in series:
        kinds = ("failure_burst",) if s.outcomes else NUMERIC_KINDS
        values = np.array([p.value for p in s.points], dtype=float)
        lo, hi = _room(tuning, len(values), s.outcomes)
        if lo >= hi or float(np.ptp(values)) == 0.0:
            continue  # too short, or constant: nothing normal to depart from
        result.series[s.metric] += 1
        stamps = [p.timestamp for p in s.points]
        background = detect(s.points, tuning, outcomes=s.outcomes)
        for _ in range(trials_per_series):
            for kind in kinds:
                changed, where = inject(kind, values, int(rng.integers(lo, hi)), rng, tuning)
                points = [Point(t, float(v)) for t, v in zip(stamps, changed, strict=True)]
                alarms = detect(points, tuning, outcomes=s.outcomes)
                result.by_kind[kind].add(
                    score(kind, where.start, where.end, alarms, background, tuning)
                )
    return result


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
) -> Tally:
    """Label the alarms of one trial against the injected anomaly and the stored series' own."""
    tally = Tally(injected=1)
    reach = tuning.burst_window if kind == "failure_burst" else tuning.window
    near = max(1, tuning.window // 3)
    for alarm in alarms:
        if start <= alarm.index <= end + reach:
            tally.true_alarms += 1
            if alarm.kind == kind:
                tally.recalled = 1
        elif any(b.kind == alarm.kind and abs(b.index - alarm.index) <= near for b in background):
            tally.unlabelled += 1
        else:
            tally.false_alarms += 1
    return tally
