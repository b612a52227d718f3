"""How severe a finding is, told in the terms of its series: seconds for durations and waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controltower.anomaly.findings import findings
from controltower.anomaly.model import Anomaly, Point, Series, Severity
from controltower.anomaly.severity import TimeBands, at_most, metric_severity, time_severity
from controltower.anomaly.tuning import Tuning, floor

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _series(metric: str, level: float, times: float, *, n: int = 200, at: int = 150) -> Series:
    """``n`` runs around ``level`` seconds (2 % noise), ``times`` that from run ``at`` on."""
    rng = np.random.default_rng(7)
    values = level * (1 + 0.02 * rng.standard_normal(n))
    values[at:] *= times
    points = [Point(T0 + timedelta(hours=i), float(v)) for i, v in enumerate(values)]
    return Series(f"ci / {metric}", metric, "s", points)  # type: ignore[arg-type]


def _shift(series: Series, bands: TimeBands | None = None) -> tuple[str, float, float]:
    [found] = [f for f in findings([series], times=bands) if f.anomaly.kind == "level_shift"]
    a = found.anomaly
    return a.severity, a.expected, a.observed


@pytest.mark.parametrize("metric", ["queue", "duration", "job_duration"])
def test_a_wait_of_seconds_that_doubled_is_information_not_a_page(metric: str) -> None:
    """Ten seconds becoming 22 more than double: critical by its size alone, but nobody
    waits noticeably longer, so it is told as information."""
    severity, expected, observed = _shift(_series(metric, 10.0, 2.2))
    assert metric_severity(expected, observed) == "critical"
    assert severity == "info"


def _shifts(series: Series, tuning: Tuning | None = None) -> list[float]:
    found = findings([series], tuning)
    return [f.anomaly.change for f in found if f.anomaly.kind in ("level_shift", "drift")]


@pytest.mark.parametrize("metric", ["queue", "duration", "job_duration"])
def test_a_change_of_a_few_seconds_is_not_told_however_large_against_normal(metric: str) -> None:
    """Two seconds becoming 4.4: more than double, and 2.4 s more, under the floor of ten
    seconds; with no floor it is told, with a floor of two seconds too, not of three."""
    series = _series(metric, 2.0, 2.2)
    assert _shifts(series) == []
    assert len(_shifts(series, Tuning(floor_seconds=0.0))) == 1
    assert len(_shifts(series, Tuning(floor_seconds=2.0))) == 1
    assert _shifts(series, Tuning(floor_seconds=3.0)) == []


def test_a_cost_change_under_the_floor_in_dollars_a_month_is_not_told() -> None:
    """A cost of a dollar a day that doubles is $30 a month more: told under a floor of $20 a
    month, not under one of $40; daily points take a thirtieth of it, weekly ones a week's."""
    rng = np.random.default_rng(3)
    values = 1.0 + 0.02 * rng.standard_normal(200)
    values[150:] *= 2.0
    points = [Point(T0 + timedelta(days=i), float(v)) for i, v in enumerate(values)]
    cost = Series("ci / cost", "cost", "USD", points, days_per_point=1)
    assert len(_shifts(cost, Tuning(floor_usd_month=20.0))) == 1
    assert _shifts(cost, Tuning(floor_usd_month=40.0)) == []
    assert floor(Tuning(floor_usd_month=30.0), "cost", 7) == pytest.approx(7.0)
    assert floor(Tuning(floor_usd_month=30.0), "runs", 1) == 0.0
    assert floor(Tuning(floor_seconds=12.0), "queue", None) == 12.0


def test_the_same_change_counted_in_minutes_keeps_its_severity() -> None:
    """A build of ten minutes that takes 22 is critical; of one minute that takes 2.2 (72 s
    more) a warning; both by the default bands of 30 s and 5 minutes."""
    assert _shift(_series("duration", 600.0, 2.2))[0] == "critical"
    assert _shift(_series("duration", 60.0, 2.2))[0] == "warning"
    # with bands of its own, the 72 s more are critical
    assert _shift(_series("duration", 60.0, 2.2), TimeBands(10, 50))[0] == "critical"


def test_only_series_of_seconds_take_the_time_bands() -> None:
    """Runs a day falling from 2 to 0.4 keep the severity of their size: not seconds."""
    fewer = _series("queue", 2.0, 0.2).points
    runs = Series("ci / runs", "runs", "runs", fewer, days_per_point=1)
    [found] = [f.anomaly for f in findings([runs]) if f.anomaly.kind == "level_shift"]
    assert found.severity == metric_severity(found.expected, found.observed) != "info"


def test_time_severity_lowers_never_raises() -> None:
    bands = TimeBands(30, 300)
    assert time_severity("critical", 10, bands) == "info"
    assert time_severity("critical", -45, bands) == "warning"  # a fall counts by its size
    assert time_severity("critical", 400, bands) == "critical"
    assert time_severity("info", 4000, bands) == "info"
    assert time_severity("warning", 4000, bands) == "warning"


def _spiked(level: float, to: float) -> Series:
    """200 runs around ``level`` seconds (2 % noise), run 150 at ``to``."""
    rng = np.random.default_rng(11)
    values = level * (1 + 0.02 * rng.standard_normal(200))
    values[150] = to
    points = [Point(T0 + timedelta(hours=i), float(v)) for i, v in enumerate(values)]
    return Series("ci / duration", "duration", "s", points)


def test_a_spike_of_one_run_is_at_most_a_warning_unless_configured_higher() -> None:
    """A run of ten minutes that took forty: critical by its size and by its 30 minutes, told
    as a warning (one run, over when told: no page); allowed to be critical, it is. A lasting
    change as large stays critical."""
    series = _spiked(600.0, 2400.0)

    def spike(most: Severity = "warning") -> Anomaly:
        [found] = [
            f.anomaly for f in findings([series], spike_most=most) if f.anomaly.kind == "spike"
        ]
        return found

    assert metric_severity(spike().expected, spike().observed) == "critical"
    assert spike().severity == "warning"
    assert spike("critical").severity == "critical"
    assert spike("info").severity == "info"
    assert _shift(_series("duration", 600.0, 4.0))[0] == "critical"


def test_at_most_lowers_never_raises() -> None:
    assert at_most("critical", "warning") == "warning"
    assert at_most("info", "warning") == "info"
    assert at_most("warning", "critical") == "warning"
