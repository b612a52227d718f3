"""The baseline: the rhythm profile, and nothing judged from later points."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controltower.anomaly.baseline import (
    _CHOICE_EVERY,
    _CHOICE_SPAN,
    _GAIN,
    _MIN_PER_BUCKET,
    _PER_BUCKET,
    CHOICE_MIN,
    _choices,
    _profile,
    robust_baseline,
    row_medians,
    sampled_bucket,
)
from controltower.anomaly.detection import detect
from controltower.anomaly.model import Point
from controltower.anomaly.tuning import for_any_metric

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _by_definition(
    buckets: np.ndarray, turns: np.ndarray, residual: np.ndarray, known: np.ndarray
) -> np.ndarray:
    """The profile computed point by point, as its docstring defines it."""
    profile = np.zeros(len(residual))
    for i in range(len(residual)):
        earlier: dict[int, list[float]] = {}  # per earlier turn, its known residuals in the bucket
        for j in range(len(residual)):
            if buckets[j] == buckets[i] and known[j] and turns[j] < turns[i]:
                earlier.setdefault(int(turns[j]), []).append(float(residual[j]))
        medians = [float(np.median(earlier[turn])) for turn in sorted(earlier)]
        if len(medians) >= _MIN_PER_BUCKET:
            profile[i] = np.median(medians[-_PER_BUCKET:])
    return profile


@pytest.mark.parametrize("seed", range(6))
def test_the_profile_is_the_median_over_the_last_earlier_turns_of_each_bucket(seed: int) -> None:
    """Any buckets, turns, residuals and gaps: the same profile as the definition gives; with
    every point a turn of its own, the median of the last earlier known points of its bucket."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    buckets = rng.integers(0, int(rng.integers(1, 8)), n)
    turns = np.cumsum(rng.random(n) < 0.3).astype(int) if seed % 2 else np.arange(n)
    residual = rng.normal(0, 1, n)
    known = rng.random(n) < 0.8
    residual[~known] = np.nan
    expected = _by_definition(buckets, turns, residual, known)
    assert np.array_equal(_profile(buckets, turns, residual, known), expected)


def test_a_rhythm_is_learnt_from_weeks_so_a_shift_stays_a_shift() -> None:
    """Eight runs a day for ten weeks, quicker at weekends, then 4 minutes slower from a Monday.

    Learnt from the last runs of each weekday, the rhythm takes in the new
    level within a day of runs, and the shift is removed as "rhythm"; learnt
    from the last weeks, the profile of the days after the step is the one
    before it, and the step is told as a level shift.
    """
    rng = np.random.default_rng(5)
    # runs start a few minutes apart from their schedule: not a sampled metric
    late = np.random.default_rng(6).integers(0, 10, 8 * 7 * 14)
    stamps = [T0 + timedelta(hours=3 * i, minutes=int(m)) for i, m in enumerate(late)]
    values = np.array([600.0 if t.weekday() < 5 else 400.0 for t in stamps])
    values += rng.normal(0, 10, len(values))
    step = 8 * 7 * 10  # a Monday
    values[step:] += 240.0
    turns = robust_baseline(stamps, values, 60, 30)
    points = robust_baseline(stamps, values, 60, 30, by_turn=False)
    assert turns.season == "weekday"
    after = slice(step + 8, step + 16)  # the second day after the step, and a week before it
    week_before = slice(after.start - 8 * 7, after.stop - 8 * 7)
    assert np.all(np.abs(turns.profile[after] - turns.profile[week_before]) < 30)
    assert np.all(points.profile[after][-3:] - points.profile[week_before][-3:] > 200)
    found = [
        (a.kind, a.index)
        for a in detect([Point(t, float(v)) for t, v in zip(stamps, values, strict=True)])
    ]
    assert [kind for kind, _ in found] == ["level_shift"]
    assert step <= found[0][1] < step + 16


def test_appending_points_never_changes_the_baseline_of_earlier_ones() -> None:
    """A daily rhythm for ten days, then none: each prefix has the baseline the whole has there.

    Whether a rhythm is removed is decided from earlier points only; a
    decision over the whole series would drop it for the first ten days
    once the rhythmless weeks arrive, and judge those days differently.
    """
    rng = np.random.default_rng(3)
    hours = [T0 + timedelta(hours=i) for i in range(24 * 40)]
    values = np.array([100.0 + (40.0 if 9 <= t.hour < 17 else 0.0) for t in hours])
    values[24 * 10 :] = 120.0
    values += rng.normal(0, 4, len(values))
    values[24 * 25 :] *= 2.5
    whole = robust_baseline(hours, values, 60, 30)
    for cut in (24 * 6, 24 * 10, 24 * 20, 24 * 30):
        part = robust_baseline(hours[:cut], values[:cut], 60, 30)
        for name in ("center", "scale", "profile"):
            np.testing.assert_array_equal(getattr(part, name), getattr(whole, name)[:cut])


def _mad(values: np.ndarray) -> float:
    return float(np.median(np.abs(values - np.median(values))))


@pytest.mark.parametrize("seed", range(4))
def test_the_rhythm_chosen_is_the_one_its_definition_gives(seed: int) -> None:
    """Every tenth point, the last 500 residuals decide; a change needs a tenth less spread."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 1400))
    residual = rng.normal(0, 1, n) + np.where(np.arange(n) % 7 < 5, 1.0, -1.5) * rng.random()
    residual[rng.random(n) < 0.1] = np.nan
    profiles = [np.where(np.arange(n) % 7 < 5, 1.0, -1.5) * rng.random(), rng.normal(0, 0.3, n)]
    expected = np.zeros(n, dtype=int)
    current = 0
    for at in range(0, n, _CHOICE_EVERY):
        part = residual[max(0, at - _CHOICE_SPAN) : at]
        known = np.isfinite(part)
        if known.sum() >= CHOICE_MIN:
            lo = max(0, at - _CHOICE_SPAN)
            spreads = [_mad(part[known])]
            spreads += [_mad((part - p[lo:at])[known]) for p in profiles]
            best = int(np.argmin(spreads))
            if spreads[best] < _GAIN * spreads[current]:
                current = best
        expected[at : at + _CHOICE_EVERY] = current
    np.testing.assert_array_equal(_choices(residual, profiles), expected)


def test_row_medians_leave_nan_out() -> None:
    rows = np.array([[3.0, 1.0, np.nan, 2.0], [np.nan] * 4, [4.0, 1.0, 2.0, 8.0]])
    np.testing.assert_array_equal(row_medians(rows), [2.0, np.nan, 3.0])


def _sampled(
    days: int, minutes: int, seed: int, *, weekend: float = 1.0
) -> tuple[list[datetime], np.ndarray]:
    """A metric sampled every ``minutes``: a daily rhythm (quiet nights, a busy afternoon),
    ``weekend`` times as busy on Saturdays and Sundays, with Poisson noise."""
    rng = np.random.default_rng(seed)
    stamps = [T0 + timedelta(minutes=minutes * i) for i in range(days * 24 * 60 // minutes)]
    hours = np.array([t.hour + t.minute / 60 for t in stamps])
    busy = np.array([weekend if t.weekday() >= 5 else 1.0 for t in stamps])
    rate = 50 + 2000 * np.exp(-(((hours - 14) / 4) ** 2)) * busy
    return stamps, rng.poisson(rate).astype(float)


def test_a_sampled_metric_learns_its_daily_and_weekend_rhythm_from_its_level() -> None:
    """Requests every five minutes, forty times as many in the afternoon, a quarter as many
    at weekends: once three weekends are known nothing is raised, while a trailing median
    of an hour follows the rhythm and a held sum sees every morning's rise as a change."""
    stamps, values = _sampled(28, 5, 1, weekend=0.25)
    found = detect([Point(t, float(v)) for t, v in zip(stamps, values, strict=True)])
    learnt = T0 + timedelta(days=14)
    assert [a for a in found if a.timestamp >= learnt] == []
    assert sampled_bucket(stamps, 60) == timedelta(minutes=30)
    assert robust_baseline(stamps, values, 60, 30).season in {"workday", "weekday"}


def test_a_step_on_a_sampled_metric_with_a_rhythm_is_a_level_shift_when_it_comes() -> None:
    """Latency every minute with a daily rhythm, 40 % slower from day 9 at 10:00: after the
    three days the rhythm takes to learn, the first alarm is that step, within half an hour."""
    rng = np.random.default_rng(5)
    stamps = [T0 + timedelta(minutes=i) for i in range(14 * 1440)]
    hours = np.array([t.hour + t.minute / 60 for t in stamps])
    noise = rng.lognormal(0, 0.05, len(stamps))
    values = 120 * (1 + 0.5 * np.sin(2 * np.pi * (hours - 9) / 24)) * noise
    step = 9 * 1440 + 600
    values[step:] *= 1.4
    found = detect([Point(t, float(v)) for t, v in zip(stamps, values, strict=True)])
    first = next(a for a in found if a.timestamp >= T0 + timedelta(days=3))
    assert (first.kind, first.change > 0) == ("level_shift", True)
    assert stamps[step] <= first.timestamp <= stamps[step + 30]


@pytest.mark.parametrize(
    "stamps",
    [
        [T0 + timedelta(minutes=7 * i + (i * i) % 5) for i in range(500)],  # runs, irregular
        [T0 + timedelta(days=i) for i in range(500)],  # daily totals: no time of day
        [T0 + timedelta(weeks=i) for i in range(100)],  # weekly totals
    ],
)
def test_only_a_series_sampled_more_than_once_a_day_learns_from_its_level(
    stamps: list[datetime],
) -> None:
    assert sampled_bucket(stamps, 60) is None


def test_hourly_totals_learn_their_rhythm_by_the_hour_of_the_week() -> None:
    """Requests per hour, a quarter as many at weekends: their window of 60 hours spans
    days, and the weekend moves within it. Once three weeks are known, the weekends
    raise nothing (against a trailing median the weekend pulls down, each was a fall),
    and a fall to half on a Wednesday morning is a level shift within hours."""
    stamps, values = _sampled(42, 60, 3, weekend=0.25)
    assert sampled_bucket(stamps, 60) == timedelta(hours=1)
    found = detect([Point(t, float(v)) for t, v in zip(stamps, values, strict=True)])
    assert [a for a in found if a.timestamp >= T0 + timedelta(weeks=3)] == []
    step = 37 * 24 + 10  # the sixth Wednesday, 10:00
    values[step:] *= 0.5
    found = detect([Point(t, float(v)) for t, v in zip(stamps, values, strict=True)])
    later = [a for a in found if a.timestamp >= T0 + timedelta(weeks=3)]
    assert [(a.kind, a.change < 0) for a in later][:1] == [("level_shift", True)]
    assert step <= later[0].index <= step + 12


def test_a_weekend_is_known_from_the_one_before() -> None:
    """Hourly totals, a quarter as many at weekends: the first weekend is a fall (nothing
    told of weekends before it), the second is known from the first one's two days."""
    stamps = [T0 + timedelta(hours=i) for i in range(17 * 24)]
    weekend = np.array([0.25 if t.weekday() >= 5 else 1.0 for t in stamps])
    swing = 1 + 0.5 * np.sin(2 * np.pi * (np.array([t.hour for t in stamps]) - 9) / 24)
    for seed in range(3):
        values = np.random.default_rng(seed).poisson(3000 * weekend * swing).astype(float)
        points = [Point(t, float(v)) for t, v in zip(stamps, values, strict=True)]
        found = detect(points, for_any_metric())  # as `anomaly detect` judges it
        assert [a for a in found if a.timestamp >= T0 + timedelta(days=7)] == []


def _weekdays_busy(days: int, seed: int) -> tuple[list[datetime], np.ndarray]:
    """Requests per day, Monday first, a quarter as many at weekends, 5 % day-to-day noise."""
    rng = np.random.default_rng(seed)
    stamps = [T0 + timedelta(days=i) for i in range(days)]
    share = np.array([0.25 if t.weekday() >= 5 else 1.0 for t in stamps])
    return stamps, rng.poisson(3000 * share * rng.lognormal(0.0, 0.05, days)).astype(float)


def test_the_expected_values_as_the_rhythm_chosen_now_has_them() -> None:
    """Before the weekly rhythm is chosen a Saturday lies far below normal; as the rhythm
    chosen later has it, it does not, and where that rhythm was not known yet nothing is
    said."""
    stamps, values = _weekdays_busy(200, 0)
    found = robust_baseline(stamps, values, 60, 30)
    assert found.chosen is not None
    assert found.season == "weekday"
    first = int(np.flatnonzero(found.chosen)[0])
    saturdays = [i for i in range(60, first) if stamps[i].weekday() == 5]
    assert saturdays
    as_now = found.as_chosen_at(len(values) - 1)
    for i in saturdays:
        assert values[i] < 0.4 * found.center[i]  # judged then without the rhythm
        assert abs(values[i] - as_now[i]) < 0.2 * values[i]  # with it, an ordinary Saturday
    assert np.isnan(as_now[:21]).all()  # three weeks before any weekday is known
    # before it was chosen, the points are told as they were judged
    np.testing.assert_array_equal(found.as_chosen_at(first - 1)[:first], found.center[:first])


@pytest.mark.parametrize("seed", range(3))
def test_a_fall_on_weekdays_is_told_once_the_weekly_rhythm_is_learnt(seed: int) -> None:
    """Daily totals low at weekends: three weekdays at a fifth, followed by a weekend, are
    one incident once the rhythm is known, not within the reach of the weekends judged
    before it was; `anomaly detect` chooses the rhythm from 50 points, in time for the
    fourth month."""
    stamps, values = _weekdays_busy(120, seed)
    fall = 99  # a Tuesday: Tuesday to Thursday, then Friday and the weekend as usual
    assert stamps[fall].weekday() == 1
    values[fall : fall + 3] *= 0.2
    points = [Point(t, float(v)) for t, v in zip(stamps, values, strict=True)]
    found = detect(points, for_any_metric())
    assert [(a.index, a.kind, a.change < 0) for a in found] == [(fall, "spike", True)]
    assert found[0].details["points"] == 3
    waited = replace(for_any_metric(), rhythm_min=100)  # as the CI series choose
    assert detect(points, waited) == []


def test_the_weekend_after_a_fall_on_a_friday_follows_it_by_its_own_rhythm() -> None:
    """Friday to Sunday at a fifth, long after the weekly rhythm was chosen: the Saturday lies
    far below Friday's level by its rhythm alone, and counted against that level it would
    follow the Friday and make it the start of a change (then too short to tell). Against
    the level with each day's rhythm it is a spike on the Friday."""
    for seed in range(3):
        stamps, values = _weekdays_busy(200, seed)
        fall = 172
        assert stamps[fall].weekday() == 4
        values[fall : fall + 3] *= 0.2
        points = [Point(t, float(v)) for t, v in zip(stamps, values, strict=True)]
        found = [(a.index, a.kind, a.change < 0) for a in detect(points, for_any_metric())]
        assert found == [(fall, "spike", True)]
