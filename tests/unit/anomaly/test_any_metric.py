"""Metrics whose meaning is not known (``anomaly detect``): a fall is as large as a rise."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controltower.anomaly.detection import detect
from controltower.anomaly.model import Direction, Point
from controltower.anomaly.severity import ratio_severity
from controltower.anomaly.tuning import Tuning, for_any_metric

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _points(values: np.ndarray) -> list[Point]:
    return [Point(T0 + timedelta(minutes=i), float(v)) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("expected", "observed", "spike", "severity"),
    [
        (100.0, 200.0, False, "critical"),
        (100.0, 50.0, False, "critical"),
        (100.0, 0.0, False, "critical"),
        (100.0, 80.0, False, "warning"),
        (100.0, 125.0, False, "warning"),
        (100.0, 110.0, False, "info"),
        (100.0, 250.0, True, "warning"),
        (100.0, 300.0, True, "critical"),
        (100.0, 30.0, True, "critical"),
    ],
)
def test_a_fall_is_as_severe_as_the_rise_of_the_same_ratio(
    expected: float, observed: float, spike: bool, severity: str
) -> None:
    assert ratio_severity(expected, observed, spike=spike) == severity


@pytest.mark.parametrize("minutes", [30, 60, 120])
def test_an_outage_is_critical_and_its_end_is_good_news(minutes: int) -> None:
    """Requests per minute fall to a few for half an hour or hours: a critical level shift,
    and the return to normal told as info, not a second critical, whether it comes while the
    watch for a further change is on or after it."""
    rng = np.random.default_rng(1)
    values = rng.poisson(1000, 1500).astype(float)
    values[1000 : 1000 + minutes] = rng.poisson(3, minutes)
    found = detect(_points(values), for_any_metric())
    assert [(a.kind, a.severity, a.change < 0) for a in found] == [
        ("level_shift", "critical", True),
        ("level_shift", "info", False),
    ]
    assert found[1].details["returned"] is True
    assert 1000 <= found[0].index <= 1010
    ci = detect(_points(values), Tuning(sporadic=True))  # a run duration's fall: a warning
    assert ci[0].severity == "warning"


def test_a_dip_to_a_fifth_is_a_spike_of_a_metric_whose_meaning_is_not_known() -> None:
    """A point at a fifth of normal is as far as one at five times; for run durations a run
    that short is not a spike (it would have to fall to zero to change by 100 %)."""
    rng = np.random.default_rng(2)
    values = rng.normal(1000, 10, 600)
    values[400] = 200.0
    found = detect(_points(values), for_any_metric())
    assert [(a.kind, a.index, a.severity) for a in found] == [("spike", 400, "critical")]
    assert detect(_points(values), Tuning(sporadic=True)) == []


@pytest.mark.parametrize("minutes", [2, 5, 8, 10])
def test_an_incident_of_a_few_minutes_that_came_back_is_one_spike(minutes: int) -> None:
    """Latency two and a half times normal for a few minutes: too long for a single-point
    spike, too short for a lasting change; told once, at its first minute, with its length."""
    rng = np.random.default_rng(minutes)
    values = 120 * rng.lognormal(0, 0.1, 3000)
    values[2000 : 2000 + minutes] *= 2.5
    found = detect(_points(values), for_any_metric())
    assert [(a.kind, a.index, a.details["points"]) for a in found] == [("spike", 2000, minutes)]
    assert found[0].observed == pytest.approx(np.median(values[2000 : 2000 + minutes]))


def test_an_incident_longer_than_a_transient_is_a_level_shift_and_its_return() -> None:
    rng = np.random.default_rng(7)
    values = 120 * rng.lognormal(0, 0.1, 3000)
    values[2000:2040] *= 2.5
    found = detect(_points(values), for_any_metric())
    assert [(a.kind, a.severity) for a in found] == [
        ("level_shift", "critical"),
        ("level_shift", "info"),
    ]


@pytest.mark.parametrize("direction", ["both", "up"])
def test_a_regression_after_an_incident_that_passed_is_news_not_a_return(
    direction: Direction,
) -> None:
    """An incident (a rise and its return), then, much later, a lasting rise: the return
    ended the incident, so the rise is told at its own severity (+40 %: warning), also for a
    metric said to go wrong upward; it was taken for the return from the return (info), and
    left out going upward."""
    rng = np.random.default_rng(3)
    values = 100 + rng.normal(0, 4, 2000)
    values[800:820] += 60
    values[1500:] += 40
    found = detect(_points(values), replace(for_any_metric(), direction=direction))
    told = [(a.kind, a.severity, a.change > 0, bool(a.details.get("returned"))) for a in found]
    assert told == [
        ("level_shift", "warning", True, False),
        ("level_shift", "info", False, True),
        ("level_shift", "warning", True, False),
    ]


def test_an_up_gauge_that_falls_to_zero_is_a_burst_of_zeros() -> None:
    """A 0/1 series of a metric from elsewhere: 1 for up, twenty minutes down. Which value
    is bad is not known, so a burst of either is told, saying which."""
    up = np.ones(3000)
    up[2000:2020] = 0.0
    found = detect(_points(up), for_any_metric())
    assert [(a.kind, a.severity, a.details["value"]) for a in found] == [
        ("failure_burst", "critical", 0)
    ]
    assert 2000 <= found[0].index < 2020
    assert detect(_points(up), Tuning(sporadic=True)) == []  # outcomes: 0 is a pass


def test_a_daily_total_falling_to_a_tenth_is_told_on_its_fourth_day() -> None:
    """Requests per day: a point far out counts as far as it is, so the sum crosses on the
    fourth day; clipped at 4 spreads, as for the CI series, on the seventh."""
    rng = np.random.default_rng(3)
    values = rng.normal(1000, 30, 200)
    values[150:] = rng.normal(100, 5, 50)
    days = [Point(T0 + timedelta(days=i), float(v)) for i, v in enumerate(values)]
    [fall] = detect(days, for_any_metric())
    assert (fall.kind, fall.severity, fall.index) == ("level_shift", "critical", 153)
    assert detect(days, Tuning(sporadic=True))[0].index == 156


def test_a_metric_said_to_go_wrong_one_way_is_not_told_the_other() -> None:
    """Errors per minute that fall to none for a while: with the meaning not known a critical
    change (an outage of errors looks like one of requests); said to go wrong upwards
    (``direction`` up), nothing, while a rise is still told; an up gauge said to go wrong
    downwards has its bursts of zeros told and not those of ones."""
    rng = np.random.default_rng(3)
    errors = rng.poisson(50, 2000).astype(float)
    errors[1500:1560] = 0.0
    unknown = detect(_points(errors), for_any_metric())
    assert [(a.kind, a.severity, a.change < 0) for a in unknown][:1] == [
        ("level_shift", "critical", True)
    ]
    rising = replace(for_any_metric(), direction="up")
    assert detect(_points(errors), rising) == []
    errors[1500:1560] = rng.poisson(150, 60)
    assert [(a.kind, a.change > 0) for a in detect(_points(errors), rising)][:1] == [
        ("level_shift", True)
    ]
    gauge = np.ones(3000)
    gauge[2000:2020] = 0.0
    gauge[1000:1001] = 1.0
    down = replace(for_any_metric(), direction="down")
    assert [a.details["value"] for a in detect(_points(gauge), down)] == [0]
    assert detect(_points(gauge), replace(for_any_metric(), direction="up")) == []
