"""Totals of a workflow idle on some days: a rise of what its busy days come to is told."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controltower.anomaly.detection import BUSY_IDLE, detect
from controltower.anomaly.findings import findings, monthly_cost
from controltower.anomaly.model import Point, Series
from controltower.anomaly.tuning import Tuning, for_series
from controltower.domain.wording import BUSY_UNIT

T0 = datetime(2026, 1, 5, tzinfo=UTC)
AT = 250


def _days(idle: float, times: float, seed: int, n: int = 400) -> list[Point]:
    """``n`` daily totals, zero on a share ``idle`` of days, else about 1 (20 % noise); from
    day ``AT`` on the busy days come to ``times`` as much, the idle ones stay zero."""
    rng = np.random.default_rng(seed)
    busy = rng.random(n) >= idle
    values = np.where(busy, np.clip(rng.normal(1.0, 0.2, n), 0.1, None), 0.0)
    values[AT:] *= times
    return [Point(T0 + timedelta(days=i), float(v)) for i, v in enumerate(values)]


def _rises(points: list[Point], tuning: Tuning) -> list[int]:
    return [
        a.index
        for a in detect(points, tuning)
        if a.kind in ("level_shift", "drift") and a.change > 0 and AT <= a.index <= AT + 60
    ]


@pytest.mark.parametrize(("idle", "times", "fewest"), [(0.3, 1.5, 9), (0.5, 2.0, 5)])
def test_busy_days_costing_more_are_told_though_idle_days_stay_idle(
    idle: float, times: float, fewest: int
) -> None:
    """Without the busy days judged apart, each idle day takes back what a dearer busy day
    added to the sums and the rise goes untold in most of ten series; with it, it is told in
    most (idle half the time, the median of all days wanders between idle and busy)."""
    seeds = range(10)
    told = [bool(_rises(_days(idle, times, seed), Tuning())) for seed in seeds]
    before = [bool(_rises(_days(idle, times, seed), Tuning(busy=False))) for seed in seeds]
    assert sum(told) >= fewest
    assert sum(before) <= 2
    for seed in seeds:
        busy = [a for a in detect(_days(idle, times, seed)) if a.details.get("busy")]
        assert all(a.expected > 0.5 and a.change > 0 for a in busy)  # amounts of busy days


def test_steady_busy_days_raise_nothing_of_their_own() -> None:
    """The same series without the rise: no change is told from the busy days alone."""
    for seed in range(10):
        assert not [a for a in detect(_days(0.3, 1.0, seed)) if a.details.get("busy")]


def test_a_series_seldom_idle_or_of_one_point_per_run_is_judged_as_before() -> None:
    """Idle on fewer than ``BUSY_IDLE`` of its days, a series' alarms are those without the
    busy days judged apart; so are a per-run series' (a zero there is a value)."""
    seldom = _days(BUSY_IDLE / 3, 2.0, 0)
    assert detect(seldom) == detect(seldom, Tuning(busy=False))
    per_run = for_series(Tuning(), None)
    assert not per_run.busy
    assert detect(_days(0.3, 2.0, 0), per_run) == detect(_days(0.3, 2.0, 0), Tuning(busy=False))


def test_a_change_told_from_all_the_days_is_not_told_again_from_the_busy_ones() -> None:
    """Idle days that start costing as much as busy ones (a rise of every day): the change of
    all the days is told, as without the busy days judged apart, and nothing more its way."""
    rng = np.random.default_rng(3)
    values = np.where(rng.random(400) >= 0.3, np.clip(rng.normal(1.0, 0.2, 400), 0.1, None), 0.0)
    values[AT:] += 1.0
    points = [Point(T0 + timedelta(days=i), float(v)) for i, v in enumerate(values)]
    alarms = detect(points)
    assert alarms == detect(points, Tuning(busy=False))
    assert _rises(points, Tuning())


def test_a_busy_day_rise_of_cost_is_priced_on_the_days_that_ran() -> None:
    """The finding reads in dollars a day it ran, and its monthly cost counts only the share
    of days that were busy before it."""
    series = Series("org/app · CI", "cost", "USD", _days(0.3, 1.5, 2), days_per_point=1)
    found = [f for f in findings([series]) if f.anomaly.details.get("busy")]
    assert found, "the rise of the busy days is told"
    finding = found[0]
    assert finding.unit == "USD" + BUSY_UNIT
    share = finding.anomaly.details["busy_share"]
    assert 0.5 < share < 0.9  # about 70 % of days busy
    assert finding.usd_per_month == pytest.approx(finding.anomaly.change * share * 30)
    whole = replace(finding.anomaly, details={})
    assert monthly_cost(series, whole) == pytest.approx(finding.anomaly.change * 30)
