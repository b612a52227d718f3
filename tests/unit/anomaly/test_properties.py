"""Properties the detectors keep on any series: what they tell does not depend on the unit the
values are written in, nor on which weeks the series fell in.

The unit: every bar is relative to the series' own normal and spread, so a
latency in milliseconds or in seconds, bytes or KiB, gives the same
anomalies, their sizes in its unit. Scaling by a power of two is exact in
floating point, so nothing may differ at all; a constant in some unit (a
floor of ten seconds) would show here. The CI series' floors in seconds and
dollars are such constants by design: they are set per metric
(``tuning.for_series``), not in the tunings checked here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from controltower.anomaly.detection import detect, judged_series
from controltower.anomaly.model import Anomaly, Point
from controltower.anomaly.tuning import Tuning, for_any_metric

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
TUNINGS = {"CI series": Tuning(), "metrics from elsewhere": for_any_metric()}


@st.composite
def series(draw: st.DrawFn) -> tuple[list[datetime], list[float]]:
    """A level with noise, hourly or daily, with a step, a spike or a ramp somewhere, or none."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(120, 320))
    level = draw(st.floats(20.0, 5000.0))
    values = level + rng.normal(0.0, level * draw(st.floats(0.01, 0.3)), n)
    at = draw(st.integers(70, n - 10))
    size = level * draw(st.floats(0.2, 3.0))
    change = draw(st.sampled_from(["none", "step", "spike", "ramp"]))
    if change == "step":
        values[at:] += size
    elif change == "spike":
        values[at] += size * 3
    elif change == "ramp":
        ramp = np.minimum(np.arange(n - at) / 40.0, 1.0)
        values[at:] += size * ramp
    values = np.maximum(values, 0.0)
    if draw(st.booleans()):
        values = np.round(values)  # counts and whole milliseconds
    every = draw(st.sampled_from([timedelta(hours=1), timedelta(days=1)]))
    return [START + every * i for i in range(n)], [float(v) for v in values]


def _told(found: list[Anomaly], factor: float = 1.0) -> list[tuple[object, ...]]:
    return [
        (a.kind, a.index, a.severity, a.start, a.expected * factor, a.observed * factor)
        for a in found
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=series(), power=st.integers(-12, 12))
def test_the_unit_of_the_values_changes_nothing(
    drawn: tuple[list[datetime], list[float]], power: int
) -> None:
    """The same series in another unit (times a power of two): the same anomalies, at the
    same points, of the same kind and severity, their sizes in that unit."""
    stamps, values = drawn
    factor = 2.0**power
    for tuning in TUNINGS.values():
        found = detect([Point(t, v) for t, v in zip(stamps, values, strict=True)], tuning)
        scaled = detect([Point(t, v * factor) for t, v in zip(stamps, values, strict=True)], tuning)
        assert _told(scaled) == _told(found, factor)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=series(), weeks=st.integers(-104, 104))
def test_moving_a_series_by_whole_weeks_changes_nothing(
    drawn: tuple[list[datetime], list[float]], weeks: int
) -> None:
    """The same series some whole weeks earlier or later (the same weekdays and hours): the
    same anomalies at the same points, dated as many weeks apart."""
    stamps, values = drawn
    moved = timedelta(weeks=weeks)
    for tuning in TUNINGS.values():
        found = detect([Point(t, v) for t, v in zip(stamps, values, strict=True)], tuning)
        later = detect([Point(t + moved, v) for t, v in zip(stamps, values, strict=True)], tuning)
        assert [(a.kind, a.index, a.start - moved, a.observed) for a in later] == [
            (a.kind, a.index, a.start, a.observed) for a in found
        ]


@st.composite
def changing(draw: st.DrawFn) -> tuple[list[datetime], list[float], int]:
    """A longer series with one to three changes (steps either way, spikes, ramps), and how
    many of its newest points have not arrived yet."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(330, 480))
    values = 100.0 + rng.normal(0.0, draw(st.floats(2.0, 15.0)), n)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(60, n - 150))  # most of them long enough ago to be settled
        change = draw(st.sampled_from(["step up", "step down", "spike", "ramp"]))
        if change == "spike":
            values[at] += 150.0
        elif change == "ramp":
            values[at:] += np.minimum(np.arange(n - at) / 50.0, 1.0) * 60.0
        else:
            values[at:] += draw(st.floats(20.0, 80.0)) * (1 if change == "step up" else -1)
    every = draw(st.sampled_from([timedelta(hours=1), timedelta(days=1)]))
    stamps = [START + every * i for i in range(n)]
    return stamps, [float(v) for v in np.maximum(values, 0.0)], draw(st.integers(1, 100))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=changing())
def test_what_is_told_of_points_long_past_does_not_change_as_points_arrive(
    drawn: tuple[list[datetime], list[float], int],
) -> None:
    """Each point is judged from the points before it, and a change's kind and size from a
    bounded stretch after its alarm (``kind_after``, and a window's watch for a further change
    and its second look): what the series tells of points older than that, two windows and
    ``kind_after`` before its newest, is what the whole series tells of them once more
    points arrived. (Of a series judged whole both times: one that fell to zero and stayed
    there becomes mostly zero, and such a series is judged only up to where it became so,
    ``judged_prefix``; the recorder keeps judging it whole while it holds a change told
    before, ``judged_series(held=...)``.)"""
    stamps, values, unseen = drawn
    assume(judged_series(np.array(values)) and judged_series(np.array(values[:-unseen])))
    for tuning in TUNINGS.values():
        settled = len(values) - unseen - (2 * tuning.window + tuning.kind_after)
        arrived = zip(stamps[:-unseen], values[:-unseen], strict=True)
        then = detect([Point(t, v) for t, v in arrived], tuning)
        now = detect([Point(t, v) for t, v in zip(stamps, values, strict=True)], tuning)
        assert [a for a in then if a.index < settled] == [a for a in now if a.index < settled]
