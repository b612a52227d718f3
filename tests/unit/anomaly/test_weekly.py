"""Weekly totals of seldom-built series, and the shorter window they are judged with."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from controltower.anomaly.detection import intermittent
from controltower.anomaly.model import Point
from controltower.anomaly.totals import weekly
from controltower.anomaly.tuning import WEEKLY_WINDOW, Tuning, for_series

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def _days(values: list[float]) -> list[Point]:
    return [Point(MONDAY + timedelta(days=i), v) for i, v in enumerate(values)]


def test_days_add_up_to_weeks_dated_on_their_monday() -> None:
    """Two whole weeks, the second ending on a Sunday: both kept."""
    totals = weekly(_days([1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 5, 0, 0]))
    assert [(p.timestamp, p.value) for p in totals] == [
        (MONDAY, 6.0),
        (MONDAY + timedelta(weeks=1), 5.0),
    ]


def test_a_week_not_over_is_left_out() -> None:
    """Ending on a Wednesday, the last week's total would look like a fall: it is not given."""
    totals = weekly(_days([1, 1, 1, 1, 1, 1, 1, 4, 0, 4]))
    assert [p.value for p in totals] == [7.0]


def test_weekly_totals_are_judged_with_half_a_year_of_weeks() -> None:
    """Daily series keep the tuning, per-run ones without stops or busy points (a zero there
    is a value, not a day without runs); weekly ones get a shorter, consistent one."""
    base = Tuning()
    assert for_series(base, None) == replace(base, stops=False, busy=False)
    assert for_series(base, 1) is base
    weeks = for_series(base, 7)
    assert weeks.window == WEEKLY_WINDOW
    assert weeks.min_history <= weeks.window <= weeks.tail_window
    assert weeks.classify_after <= weeks.window
    assert weeks.kind_after == WEEKLY_WINDOW  # a window after the alarm, as for daily points
    assert for_series(Tuning(kind_after=0), 7).kind_after == 0
    assert (weeks.spike_z, weeks.cusum_h) == (base.spike_z, base.cusum_h)
    short = Tuning(window=10, min_history=5)
    assert for_series(short, 7).window == 10


def test_only_mostly_zero_days_make_a_series_weekly() -> None:
    """Every day the same number of runs is steady, not seldom: it stays daily (and, being
    constant, is simply not judged); zero on more than half the days is seldom."""
    assert not intermittent(np.array([3.0] * 30))
    assert not intermittent(np.array([0.0, 1.0] * 15))
    assert intermittent(np.array([0.0, 0.0, 5.0] * 10))
    # zeros after the last value away from zero are a stop, not the series' habit
    assert not intermittent(np.array([0.0, 1.0] * 15 + [0.0] * 60))
    assert intermittent(np.array([0.0, 0.0, 1.0] * 15 + [0.0] * 60))
    assert intermittent(np.zeros(5))
