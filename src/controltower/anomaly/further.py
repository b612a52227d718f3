"""After a level shift or a drift: a further change either way, and a kind judged again later.

While the trailing baseline catches up after a level shift (or a drift), a
**further change** either way is summed against the level it moved to (that of
its points before a second step among them), so that a second step soon
after the first (further on, or back) is not absorbed unseen; but a further
level shift the same way, where the first was a drift as judged later and no
second step lies between, is that drift going on, told once. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from controltower.anomaly.baseline import LEVEL_FLOOR, MAD_TO_SD, Array, Baseline
from controltower.anomaly.change import clipped, describe_change
from controltower.anomaly.model import Anomaly
from controltower.anomaly.severity import metric_severity
from controltower.anomaly.spikes import allowed
from controltower.anomaly.steps import before_second_step, fewest_settled, points_before_step
from controltower.anomaly.tuning import Tuning


@dataclass(frozen=True, slots=True)
class Settling:
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
    ) -> Settling | None:
        """The change (from ``start``) told at ``position`` as judged later (None: the same)."""
        if tuning.kind_after <= tuning.classify_after:
            return None
        longer = replace(tuning, classify_after=tuning.kind_after)
        judged = describe_change(timestamps, values, baseline, longer, start, change.index)
        if judged.kind == change.kind:
            return None
        details = {**change.details, "classified_at": judged.details["classified_at"]}
        return cls(replace(change, kind=judged.kind, details=details), position)


@dataclass(slots=True)
class Further:
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
    ) -> list[Further]:
        """The watches, on and back, after the shift alarmed at ``alarm`` (none: no room);
        ``until``: where a second step among its settled points begins (``before_second_step``).
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
    ) -> Further | None:
        """The watch for a further change after the shift alarmed at ``alarm`` (None: no room)."""
        begin = alarm + 1 + tuning.further_after
        settled = values[alarm + 1 : begin] - baseline.profile[alarm + 1 : begin]
        before = baseline.scale[max(0, alarm - tuning.window) : alarm + 1]
        if settled.size < fewest_settled(tuning) or not np.isfinite(before).any():
            return None
        level = settled[: (until or begin) - alarm - 1]
        reference = float(np.median(level))
        spread = MAD_TO_SD * float(np.median(np.abs(level - reference)))
        floor = max(LEVEL_FLOOR * abs(reference), float(np.nanmin(before)), 1e-9)
        return cls(sign, reference, max(spread, floor), alarm + 1, alarm + 1 + level.size)

    @staticmethod
    def step_all(
        watches: list[Further],
        timestamps: Sequence[datetime],
        values: Array,
        baseline: Baseline,
        tuning: Tuning,
        scale: float,
        i: int,
    ) -> tuple[Anomaly | None, list[Further]]:
        """Point ``i`` added to each watch: the first further change told there (None: none),
        and the watches from then on (after a further level shift, its own: ``further_chain``).
        """
        for watch in watches:
            more = watch.step(timestamps, values, baseline, tuning, scale, i)
            if more is not None:
                if more.kind != "level_shift" or not tuning.further_chain:
                    return more, []
                until = before_second_step(values, baseline, tuning, i)
                return more, Further.both_ways(values, baseline, tuning, i, until)
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
            added = self.sign * clipped(z, tuning) / scale - tuning.cusum_k
            self.total = max(0.0, self.total + added)
            self.start = None if self.total == 0.0 else (j if self.start is None else self.start)
            crossed = self.total > tuning.cusum_h
            if crossed:
                break
        if not crossed or self.start is None or not allowed(tuning, self.sign):
            return None
        settled = (self.settled_from, self.reference)
        change = describe_change(timestamps, values, baseline, tuning, self.start, i, settled)
        expected = self.reference + float(baseline.profile[self.start])
        return replace(
            change,
            expected=expected,
            score=abs(change.observed - expected) / self.spread,
            severity=metric_severity(expected, change.observed),
            details={**change.details, "further": True},
        )


def one_ramp(
    values: Array, baseline: Baseline, tuning: Tuning, settling: Settling, more: Anomaly
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
    return points_before_step(values, baseline, tuning, first.index, end) == end - first.index - 1
