"""Injecting known anomalies and labelling alarms against them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controltower.anomaly.detection import detect
from controltower.anomaly.evaluation import _active, _room, evaluate
from controltower.anomaly.injection import (
    BURST_CEILING,
    BURST_RISE,
    Injected,
    burst_places,
    inject,
)
from controltower.anomaly.model import Anomaly, Kind, Point, Series
from controltower.anomaly.scoring import Tally, clear_of_stored, score, score_stop, wilson
from controltower.anomaly.tuning import Tuning

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def alarm(kind: Kind, index: int) -> Anomaly:
    return Anomaly(kind, "warning", T0, T0, 1.0, 2.0, 5.0, index)


def series(seed: int, n: int = 400, outcomes: bool = False) -> Series:
    rng = np.random.default_rng(seed)
    values = (rng.random(n) < 0.1) if outcomes else 100 + rng.normal(0, 5, n)
    points = [Point(T0 + timedelta(hours=i), float(v)) for i, v in enumerate(values)]
    return Series(f"s{seed}", "failures" if outcomes else "duration", "s", points, [], outcomes)


def test_alarms_are_true_or_false_and_those_on_the_stored_series_count_as_false() -> None:
    """In the anomaly's reach: true; anywhere else false, also beside one the stored series has."""
    tally = score(
        "level_shift",
        100,
        100,
        [alarm("level_shift", 104), alarm("spike", 50), alarm("spike", 300)],
        [alarm("spike", 52)],
        Tuning(),
    )
    assert (tally.recalled, tally.true_alarms, tally.false_alarms, tally.on_stored) == (1, 1, 2, 1)
    assert tally.false_alarm_share == pytest.approx(2 / 3)
    assert tally.false_alarm_share_beyond_stored == pytest.approx(1 / 2)


def test_a_stored_change_told_as_the_other_lasting_kind_is_still_on_the_stored_series() -> None:
    """The stored series' level shift at 80, told as a drift once the injection at 100 is in the
    points its kind is judged on, is the stored series' own alarm; a spike there is not, nor is
    a drift far from any stored change."""
    tally = score(
        "level_shift",
        100,
        100,
        [alarm("drift", 82), alarm("spike", 80), alarm("drift", 300)],
        [alarm("level_shift", 80)],
        Tuning(),
    )
    assert (tally.false_alarms, tally.on_stored) == (3, 1)


def test_a_stored_change_dated_elsewhere_is_still_on_the_stored_series_once() -> None:
    """The stored series' shift at 300, no longer told there after the injection at 100 but 40
    points later (a third of a window is 20 points, a window 60), is its own alarm re-dated;
    each stored alarm is re-dated once, and one still told at its place re-dates nothing: a
    second alarm near it is false beyond the stored series."""
    stored = [alarm("level_shift", 300)]
    moved = score("level_shift", 100, 100, [alarm("level_shift", 340)], stored, Tuning())
    assert (moved.false_alarms, moved.on_stored, moved.redated) == (1, 1, 1)
    assert moved.false_alarm_share_beyond_stored is None  # no alarm beyond the stored ones
    twice = [alarm("level_shift", 270), alarm("drift", 342)]
    once = score("level_shift", 100, 100, twice, stored, Tuning())
    assert (once.false_alarms, once.on_stored, once.redated) == (2, 1, 1)
    kept = [alarm("level_shift", 301), alarm("level_shift", 342)]
    still = score("level_shift", 100, 100, kept, stored, Tuning())
    assert (still.false_alarms, still.on_stored, still.redated) == (2, 1, 0)
    far = score("level_shift", 100, 100, [alarm("level_shift", 370)], stored, Tuning())
    assert (far.on_stored, far.redated) == (0, 0)
    other = score("level_shift", 100, 100, [alarm("spike", 335)], stored, Tuning())
    assert (other.on_stored, other.redated) == (0, 0)


def test_a_trial_is_clear_of_the_stored_series_without_a_lasting_change_of_it_near() -> None:
    """A lasting change or burst of the stored series from a window (60) before the injection
    to the end of its span (a window after its last point; a burst's window for a burst) makes
    the trial not clear; a stored spike, or a change beyond that stretch, does not."""
    shift, burst, t = (
        Injected("level_shift", 100, 100, 5.0),
        Injected("failure_burst", 100, 119, 0.5),
        Tuning(),
    )
    assert clear_of_stored(shift, [], t)
    assert clear_of_stored(shift, [alarm("spike", 100), alarm("level_shift", 39)], t)
    assert clear_of_stored(shift, [alarm("drift", 161)], t)
    for near in (40, 95, 160):
        assert not clear_of_stored(shift, [alarm("level_shift", near)], t), near
        assert not clear_of_stored(shift, [alarm("failure_burst", near)], t), near
    assert not clear_of_stored(burst, [alarm("failure_burst", 139)], t)
    assert clear_of_stored(burst, [alarm("failure_burst", 140)], t)


def test_trials_clear_of_the_stored_series_are_tallied_apart_within_the_kinds() -> None:
    """On clean synthetic series no stored change lies near any trial: every trial is clear,
    with the same figures as its kind; a series with a step of its own before each place has
    fewer clear trials, and the clear ones are a part of the kind's."""
    data = [series(s) for s in range(3)] + [series(s, outcomes=True) for s in range(3)]
    calm = evaluate(data, seed=7)
    for kind, tally in calm.by_kind.items():
        assert calm.clear[kind].as_dict() == tally.as_dict(), kind
    assert calm.as_dict()["clear_of_stored"]["overall"] == calm.overall.as_dict()
    stepped = []
    for s in range(6):
        rng = np.random.default_rng(s)
        values = 100 + rng.normal(0, 5, 400) + np.where(np.arange(400) >= 200, 60.0, 0.0)
        points = [Point(T0 + timedelta(hours=i), float(v)) for i, v in enumerate(values)]
        stepped.append(Series(f"t{s}", "duration", "t", points, []))
    mixed = evaluate(stepped, seed=7, trials_per_series=4)
    assert 0 < mixed.clear_overall.injected < mixed.overall.injected
    for kind, tally in mixed.clear.items():
        assert tally.injected <= mixed.by_kind[kind].injected
        assert tally.recalled <= mixed.by_kind[kind].recalled


def test_an_alarm_of_another_kind_is_true_but_not_recall() -> None:
    """A spike raised on an injected shift is not a false alarm, nor does it recall the shift;
    it finds it. An alarm outside the reach finds nothing."""
    tally = score("level_shift", 100, 100, [alarm("spike", 100)], [], Tuning())
    assert (tally.recalled, tally.found, tally.true_alarms, tally.false_alarms) == (0, 1, 1, 0)
    missed = score("level_shift", 100, 100, [alarm("level_shift", 99)], [], Tuning())
    assert (missed.recalled, missed.found, missed.false_alarms) == (0, 0, 1)
    assert missed.found_share == 0.0


def test_the_delay_is_from_the_anomalys_first_point_to_the_first_alarm_of_its_kind() -> None:
    """A drift from point 100 told by a level shift at 103 and drifts at 130 and 112: 12
    points; an anomaly found only by another kind, or missed, has no delay. Tallies add
    their delays up, and the report gives their median and 90th percentile."""
    alarms = [alarm("level_shift", 103), alarm("drift", 130), alarm("drift", 112)]
    told = score("drift", 100, 180, alarms, [], Tuning())
    assert told.delays == [12]
    assert score("drift", 100, 180, [alarm("level_shift", 103)], [], Tuning()).delays == []
    assert score("drift", 100, 180, [alarm("drift", 99)], [], Tuning()).delays == []
    total = Tally()
    for delay in (2, 4, 30):
        total.add(score("spike", 100, 100, [alarm("spike", 100 + delay)], [], Tuning()))
    assert total.delays == [2, 4, 30]
    report = total.as_dict()
    assert report["delay_median"] == 4.0
    assert report["delay_p90"] == pytest.approx(np.quantile([2, 4, 30], 0.9))
    assert "delays" not in report
    assert Tally().as_dict()["delay_median"] is None


@pytest.mark.parametrize("kind", ["spike", "level_shift", "drift", "failure_burst"])
def test_injection_changes_a_copy_from_the_place(kind: Kind) -> None:
    """The original is untouched and nothing before the place changes."""
    values = np.array([p.value for p in series(1, outcomes=kind == "failure_burst").points])
    before = values.copy()
    changed, where = inject(kind, values, 200, np.random.default_rng(0), Tuning())
    assert np.array_equal(values, before)
    assert np.array_equal(changed[:200], values[:200])
    assert where.start == 200
    assert where.end >= 200


def test_evaluation_is_deterministic_with_a_seed_and_recalls_clear_anomalies() -> None:
    """Same seed, same figures; on clean synthetic series every kind is recalled."""
    data = [series(s) for s in range(3)] + [series(s, outcomes=True) for s in range(3)]
    first = evaluate(data, seed=7).as_dict()
    assert first == evaluate(data, seed=7).as_dict()
    for kind, tally in first["per_kind"].items():
        assert tally["injected"] == 3, kind
        assert tally["recall"] >= 2 / 3, kind


def test_injected_sizes_are_at_least_their_share_of_the_level() -> None:
    """A shift adds 30 % to 100 % of the level before it, a spike 100 % to 300 %."""
    values = np.array([p.value for p in series(2).points])
    for kind, low, high in (("level_shift", 0.3, 1.0), ("spike", 1.0, 3.0)):
        changed, where = inject(kind, values, 200, np.random.default_rng(1), Tuning())  # type: ignore[arg-type]
        level = float(np.median(values[200 - Tuning().window : 200]))
        assert low * level <= where.size <= high * level
        assert changed[200] - values[200] == pytest.approx(where.size)


@pytest.mark.parametrize(
    ("kind", "low", "high"),
    [("level_shift", 1.2, 4.0), ("drift", 1.6, 4.0), ("spike", 1.0, 3.0)],
)
def test_injected_sizes_clear_the_floor_as_far_as_the_bar_against_normal(
    kind: Kind, low: float, high: float
) -> None:
    """On a queue of two seconds, where a quarter of normal is half a second, a shift of +30 %
    to +100 % of the bar of 25 % is 1.2 to 4 times the floor of ten seconds instead; a spike
    of +100 % to +300 % of the bar of 100 % one to three times; and the detectors, held to that
    floor, tell each."""
    rng = np.random.default_rng(4)
    values = np.round(2.0 + rng.exponential(0.5, 400))
    tuning = Tuning(min_change=10.0)
    for seed in range(5):
        changed, where = inject(kind, values, 200, np.random.default_rng(seed), tuning)
        assert low * 10.0 <= where.size <= high * 10.0
        stamps = [T0 + timedelta(hours=i) for i in range(len(values))]
        found = detect([Point(t, float(v)) for t, v in zip(stamps, changed, strict=True)], tuning)
        told = [a.kind for a in found if 200 <= a.index <= where.end + tuning.window]
        assert told[:1] == [kind], seed
    # a bar against normal of 0 takes the size against normal as a multiple of the floor
    _, where = inject(
        "spike", values, 200, np.random.default_rng(0), replace(tuning, spike_relative=0.0)
    )
    assert 10.0 <= where.size <= 30.0


def test_a_spike_on_a_heavy_tailed_series_clears_its_own_tail() -> None:
    """Injected into a series whose 1-in-100 point is far out, a spike lands 2 to 4 times as far."""
    rng = np.random.default_rng(5)
    values = np.exp(rng.normal(np.log(10), 1.0, 500))
    tuning = Tuning()
    changed, where = inject("spike", values, 300, np.random.default_rng(2), tuning)
    level = float(np.median(values[300 - tuning.window : 300]))
    reach = float(np.quantile(values[300 - tuning.tail_window : 300], tuning.tail_quantile)) - level
    assert reach > 3 * level
    assert 2 * reach <= where.size <= 4 * reach
    assert changed[300] == pytest.approx(values[300] + where.size)


def _outcomes(name: str, rates: list[tuple[int, float]], seed: int = 3) -> Series:
    """An outcome series of runs failing at each (count, rate) in turn."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.random(count) < rate for count, rate in rates])
    points = [Point(T0 + timedelta(hours=i), float(v)) for i, v in enumerate(values)]
    return Series(name, "failures", "s", points, [], True)


def test_a_burst_is_put_only_where_the_failure_rate_leaves_room_for_its_rise() -> None:
    """Runs failing 90 % of the time, then 10 %: the places are in the second stretch, where
    the 100 runs before fail at most 55 % of the time, and the burst there rises by 0.4."""
    s = _outcomes("flaky", [(300, 0.9), (400, 0.1)])
    values = np.array([p.value for p in s.points])
    tuning = Tuning()
    places = burst_places(values, 120, 660, tuning)
    reference = [values[max(0, p - tuning.burst_reference) : p].mean() for p in places]
    assert places.size
    assert max(reference) + BURST_RISE <= BURST_CEILING + 1e-9
    assert places.min() > 300
    assert 640 in places
    _, where = inject("failure_burst", values, int(places[0]), np.random.default_rng(1), tuning)
    assert where.size == pytest.approx(reference[0] + BURST_RISE)


def test_a_burst_is_not_put_right_after_a_burst_of_the_series() -> None:
    """Runs failing 10 % of the time with 20 failing at 90 % among them: the places right
    after those 20 are left out (more failures there lengthen that burst), those well after
    them and before them are kept."""
    s = _outcomes("streak", [(300, 0.1), (20, 0.9), (300, 0.1)])
    values = np.array([p.value for p in s.points])
    tuning = Tuning()
    places = set(burst_places(values, 120, 600, tuning).tolist())
    assert not {320, 325} & places  # the 20 runs before are mostly the streak
    assert {250, 299, 450} <= places
    recent = [values[p - 20 : p].mean() - values[max(0, p - 120) : p - 20].mean() for p in places]
    assert max(recent) < tuning.burst_min_increase


def test_a_series_failing_too_often_for_a_burst_is_not_judged() -> None:
    """A workflow failing 90 % of its runs has no room for a rise of 0.4: it is counted among
    the series not judged, and no burst goes into it."""
    result = evaluate([_outcomes("red", [(600, 0.9)]), _outcomes("ok", [(600, 0.1)])], seed=1)
    assert result.skipped == {"failures": 1}
    assert result.by_kind["failure_burst"].injected == 1


def test_mostly_zero_series_are_skipped_and_counted() -> None:
    """A series zero at most points is not judged, and the evaluation says so."""
    points = [Point(T0 + timedelta(days=i), float(i % 5 == 0)) for i in range(400)]
    sparse = Series("sparse", "runs", "runs", [Point(p.timestamp, 3 * p.value) for p in points])
    result = evaluate([sparse, series(1)], seed=1)
    assert result.skipped == {"runs": 1}
    assert result.series == {"duration": 1}


def test_an_alarm_at_an_anomaly_known_to_be_present_is_neither_true_nor_false() -> None:
    """Beside a confirmed anomaly of the stored series an alarm is known_present; in the
    injected anomaly's reach it stays true; elsewhere it stays false."""
    alarms = [alarm("level_shift", 104), alarm("spike", 52), alarm("spike", 300)]
    tally = score("level_shift", 100, 100, alarms, [alarm("spike", 52)], Tuning(), present=[50])
    assert (tally.true_alarms, tally.false_alarms, tally.known_present) == (1, 1, 1)
    assert tally.on_stored == 0
    assert tally.false_alarm_share == pytest.approx(1 / 2)
    inside = score("level_shift", 100, 100, alarms[:1], [], Tuning(), present=[104])
    assert (inside.true_alarms, inside.known_present) == (1, 0)


def test_confirmed_anomalies_of_a_series_leave_the_false_alarm_count() -> None:
    """A real step in the stored series raises an alarm in every trial; once it is known,
    exactly those alarms leave the false count, and recall does not move."""
    rng = np.random.default_rng(3)
    values = 100 + rng.normal(0, 2, 600)
    values[300:] += 60
    points = [Point(T0 + timedelta(hours=i), float(v)) for i, v in enumerate(values)]
    stepped = Series("org/app · CI", "duration", "s", points)
    plain = evaluate([stepped], seed=4).overall
    at = points[305].timestamp  # the step's alarm is a few points after it
    known = evaluate([stepped], seed=4, known={("org/app · CI", "duration"): [at]})
    other = evaluate([stepped], seed=4, known={("org/app · CI", "queue"): [at]})
    assert plain.false_alarms > 0
    assert known.known["duration"] == 1
    assert known.overall.known_present > 0
    assert known.overall.false_alarms == plain.false_alarms - known.overall.known_present
    assert (known.overall.recalled, known.overall.true_alarms) == (
        plain.recalled,
        plain.true_alarms,
    )
    assert other.overall.as_dict() == plain.as_dict()  # another metric's anomaly is not this one's


def test_recall_comes_with_a_wilson_interval_that_narrows_with_more_trials() -> None:
    """The interval holds the recall, stays within 0 to 1, and is narrower for more trials."""
    assert wilson(45, 50)[0] < 0.9 < wilson(45, 50)[1]
    assert wilson(450, 500)[1] - wilson(450, 500)[0] < wilson(45, 50)[1] - wilson(45, 50)[0]
    low, high = wilson(10, 10)
    assert 0.69 < low < 0.73  # the textbook figure for 10 of 10: 0.722
    assert high == pytest.approx(1.0)
    assert wilson(0, 7)[0] == 0.0
    tally = Tally(injected=20, recalled=15)
    assert tally.as_dict()["recall_interval"] == wilson(15, 20)
    assert Tally().as_dict()["recall_interval"] is None


def daily_runs(seed: int, n: int = 400) -> Series:
    """Runs per day, about 5, as the store gives a workflow's daily totals."""
    values = np.random.default_rng(seed).poisson(5, n)
    points = [Point(T0 + timedelta(days=i), float(v)) for i, v in enumerate(values)]
    return Series(f"w{seed}", "runs", "runs", points, days_per_point=1)


def test_stops_are_measured_apart_and_leave_the_four_kinds_where_they_were() -> None:
    """Daily totals are also cut at a random place and followed by the zeros of a stop: each is
    one stop trial, recalled by a fall within them, its delay counted from the cut; stops
    are in neither the spec's kinds nor overall."""
    per_run = [series(s) for s in range(2)]
    totals = [daily_runs(s) for s in range(4)]
    result = evaluate(per_run + totals, seed=5, trials_per_series=2)
    assert result.stops.injected == 8
    assert result.stops.recalled == 8  # five runs a day, then none: told within days
    assert result.stops.delay_quantile(0.9) is not None
    assert 2 <= (result.stops.delay_quantile(0.9) or 0) <= 5
    assert result.overall.injected == 3 * 6 * 2  # the stops are not in it
    alone = evaluate(per_run, seed=5, trials_per_series=2)
    assert alone.stops.injected == 0
    assert result.as_dict()["stops"]["injected"] == 8
    assert [result.by_kind[k].injected for k in result.by_kind] == [12, 12, 12, 0]


def test_a_stop_is_recalled_by_a_fall_in_its_zeros_only() -> None:
    """A rise in the zeros, or a fall before them, recalls nothing; both alarms are counted."""
    fall = Anomaly("level_shift", "warning", T0, T0, 5.0, 0.0, 5.0, 203)
    rise = Anomaly("level_shift", "warning", T0, T0, 0.0, 5.0, 5.0, 205)
    early = Anomaly("level_shift", "warning", T0, T0, 5.0, 0.0, 5.0, 150)
    told = score_stop(200, 259, [early, fall], [], Tuning())
    assert (told.recalled, told.delays, told.true_alarms, told.false_alarms) == (1, [3], 1, 1)
    missed = score_stop(200, 259, [early, rise], [], Tuning())
    assert (missed.recalled, missed.found, missed.true_alarms) == (0, 1, 1)


def test_nothing_is_put_into_the_zeros_a_stopped_workflow_is_followed_with() -> None:
    """Daily totals that end in 100 days of zero (a workflow that stopped, followed) get their
    anomalies two windows before the last day with runs, never in the zeros."""
    points = daily_runs(3, 500).points
    values = np.array([p.value if i < 400 else 0.0 for i, p in enumerate(points)])
    stopped = Series("w3", "runs", "runs", points, days_per_point=1)
    assert _room(Tuning(), _active(values, stopped), False) == (120, 400 - 120)
    per_run = Series("d", "duration", "s", points)
    assert _active(values, per_run) == 500  # a per-run zero is a value


def test_the_series_shuffled_raise_no_change_where_the_stored_one_has_one() -> None:
    """A duration that stepped up for good raises a level shift as stored; its values in a
    random order hold no change (the high ones are outliers now), and the zeros a stopped
    workflow is followed with stay at the end, out of both counts. The same seed gives the
    same figures."""
    rng = np.random.default_rng(4)
    values = np.concatenate([100 + rng.normal(0, 5, 400), 150 + rng.normal(0, 5, 100)])
    stepped = Series(
        "d",
        "duration",
        "s",
        [Point(T0 + timedelta(hours=i), float(v)) for i, v in enumerate(values)],
    )
    runs = daily_runs(2, 500)
    stopped = Series(
        "w",
        "runs",
        "runs",
        [Point(p.timestamp, p.value if i < 400 else 0.0) for i, p in enumerate(runs.points)],
        days_per_point=1,
    )
    result = evaluate([stepped, stopped], seed=3)
    assert result.stored_kinds["duration"]["level_shift"] >= 1
    assert not {"level_shift", "drift"} & set(result.shuffled_kinds["duration"])
    assert result.stored_kinds["runs"]["level_shift"] == 0  # its stop lies past its active life
    assert result.shuffled_kinds["runs"]["level_shift"] == 0
    assert evaluate([stepped, stopped], seed=3).as_dict() == result.as_dict()


def test_busy_day_rises_are_measured_apart_and_leave_the_four_kinds_where_they_were(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Daily totals idle on a share of their days get their busy days multiplied from a random
    place, the idle ones left at zero: one rise trial each, recalled by a shift or drift up,
    in neither the spec's kinds nor overall, drawn apart so that the four kinds get the same
    places as without them; series never idle get none."""
    rng = np.random.default_rng(4)
    idle = []
    for s in range(3):
        busy = rng.random(400) >= 0.3
        values = np.where(busy, np.clip(rng.normal(1.0, 0.2, 400), 0.1, None), 0.0)
        points = [Point(T0 + timedelta(days=i), float(v)) for i, v in enumerate(values)]
        idle.append(Series(f"w{s}", "cost", "USD", points, days_per_point=1))
    never_idle = [daily_runs(s) for s in range(2)]
    result = evaluate(idle + never_idle, seed=5, trials_per_series=2)
    assert result.busy_rises.injected == 6
    assert result.busy_rises.recalled >= 4  # rises of 30 % to 100 % on busy days alone
    assert result.as_dict()["busy_rises"]["injected"] == 6
    assert result.overall.injected == 3 * 5 * 2
    without = evaluate(idle + never_idle, seed=5, trials_per_series=2, tuning=Tuning(busy=False))
    assert without.busy_rises.injected == 6
    assert without.busy_rises.recalled < result.busy_rises.recalled
    assert evaluate(never_idle, seed=5, trials_per_series=2).busy_rises.injected == 0
    monkeypatch.setattr("controltower.anomaly.evaluation.often_idle", lambda _values: False)
    none = evaluate(idle + never_idle, seed=5, trials_per_series=2)
    assert none.busy_rises.injected == 0
    assert none.as_dict()["per_kind"] == result.as_dict()["per_kind"]
    assert none.as_dict()["stops"] == result.as_dict()["stops"]
