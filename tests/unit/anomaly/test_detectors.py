"""The detectors on synthetic series whose anomalies are known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controltower.anomaly.baseline import robust_baseline, trailing_median
from controltower.anomaly.bursts import binomial_tail
from controltower.anomaly.detection import detect
from controltower.anomaly.detectors import classify_change, inflation
from controltower.anomaly.model import Point
from controltower.anomaly.tuning import Tuning

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def points(values: np.ndarray, step: timedelta = timedelta(hours=1)) -> list[Point]:
    return [Point(T0 + i * step, float(v)) for i, v in enumerate(values)]


def noise(seed: int = 1, n: int = 300) -> np.ndarray:
    return 100 + np.random.default_rng(seed).normal(0, 5, n)


def test_steady_noise_raises_nothing() -> None:
    """Gaussian noise around a constant level gives no alarm."""
    assert detect(points(noise())) == []


def test_one_far_point_is_a_spike_with_its_size() -> None:
    """A single point 2.5 times normal (30 spreads) is a spike, dated there, expected near 100."""
    values = noise()
    values[150] += 150
    [found] = detect(points(values))
    assert (found.kind, found.index, found.timestamp) == ("spike", 150, T0 + timedelta(hours=150))
    assert found.expected == pytest.approx(100, abs=3)
    assert found.score > 8
    assert found.severity == "critical"


def test_a_lasting_step_is_a_level_shift_starting_at_the_step() -> None:
    """A permanent rise of 40 % (8 spreads) is one level shift, started within a few points."""
    values = noise()
    values[150:] += 40
    [found] = detect(points(values))
    assert found.kind == "level_shift"
    assert 148 <= found.start.hour + 24 * (found.start - T0).days <= 155
    assert found.observed == pytest.approx(140, abs=4)


def test_a_small_but_clear_step_is_not_reported() -> None:
    """A rise of 10 % is many spreads of steady noise, but below the minimum relative size."""
    values = 100 + np.random.default_rng(2).normal(0, 1, 300)
    values[150:] += 10
    assert detect(points(values)) == []
    assert [a.kind for a in detect(points(values), Tuning(min_relative=0.05))] == ["level_shift"]


def test_a_ramp_is_a_drift() -> None:
    """A rise spread over 40 points is told apart from a step as a drift."""
    values = noise()
    values[150:210] += np.linspace(0, 60, 60)
    values[210:] += 60
    kinds = [a.kind for a in detect(points(values))]
    assert kinds[0] == "drift"


def test_failures_far_above_their_history_are_a_burst() -> None:
    """14 failures in 20 runs after a 10 % failure rate is a burst; the history alone is not."""
    rng = np.random.default_rng(3)
    outcomes = (rng.random(300) < 0.1).astype(float)
    assert detect(points(outcomes)) == []
    outcomes[200:220] = 0
    outcomes[200:214] = 1
    [found] = detect(points(outcomes))
    assert found.kind == "failure_burst"
    assert found.start == T0 + timedelta(hours=200)
    assert found.severity in {"warning", "critical"}


@pytest.mark.parametrize(
    ("direction", "expected"), [("up", []), ("down", ["spike"]), ("both", ["spike"])]
)
def test_direction_limits_which_way_counts(direction: str, expected: list[str]) -> None:
    """A drop is reported when looking down or both ways, not when looking only up."""
    values = noise()
    values[150] -= 60
    tuning = Tuning(direction=direction, spike_relative=0.5)  # type: ignore[arg-type]
    assert [a.kind for a in detect(points(values), tuning)] == expected


def test_baseline_ignores_the_outliers_it_looks_for() -> None:
    """Three huge values in the window move the trailing median by little."""
    values = np.full(40, 10.0)
    values[[5, 10, 20]] = 1000
    center, _ = trailing_median(values, 30, 15)
    assert center[35] == 10.0
    assert np.isnan(center[10])


def test_weekly_rhythm_is_removed_when_it_steadies_the_series() -> None:
    """Daily points busy on weekdays and quiet at weekends get a weekday profile; no alarms."""
    rng = np.random.default_rng(5)
    days = [T0 + timedelta(days=i) for i in range(140)]
    values = np.array([(100.0 if d.weekday() < 5 else 20.0) for d in days])
    values += rng.normal(0, 3, len(days))
    baseline = robust_baseline(days, values, 30, 15)
    assert baseline.season == "weekday"
    assert detect(points(values, timedelta(days=1))) == []


def test_the_rhythm_at_a_point_is_learnt_from_earlier_points_only() -> None:
    """Changing the last weeks leaves the rhythm removed at earlier points as it was."""
    rng = np.random.default_rng(6)
    days = [T0 + timedelta(days=i) for i in range(140)]
    values = np.array([(100.0 if d.weekday() < 5 else 20.0) for d in days])
    values += rng.normal(0, 3, len(days))
    changed = values.copy()
    changed[100:] *= 3
    first = robust_baseline(days, values, 30, 15)
    second = robust_baseline(days, changed, 30, 15)
    assert first.season == second.season == "weekday"
    assert np.array_equal(first.profile[:101], second.profile[:101])


def test_an_intermittent_series_is_not_judged() -> None:
    """Mostly zero (a repository built now and then) has no normal spread: nothing is raised."""
    rng = np.random.default_rng(8)
    values = np.where(rng.random(300) < 0.3, rng.uniform(1, 5, 300), 0.0)
    values[200] = 500
    assert detect(points(values, timedelta(days=1))) == []


def test_one_alarm_per_episode() -> None:
    """A step followed by a spike in the same direction is told once, as the step."""
    values = noise()
    values[150:] += 50
    values[170] += 300
    assert [a.kind for a in detect(points(values))] == ["level_shift"]


def test_autocorrelation_widens_the_change_threshold() -> None:
    """Scores that wander together count for less than independent ones."""
    rng = np.random.default_rng(4)
    assert inflation(rng.normal(0, 1, 500)) == pytest.approx(1.0, abs=0.1)
    wander = np.zeros(500)
    for i in range(1, 500):
        wander[i] = 0.7 * wander[i - 1] + rng.normal()
    assert inflation(wander) > 2.0


def test_constant_series_raises_nothing() -> None:
    """A series that never changes has no spread to depart from."""
    assert detect(points(np.zeros(100))) == []


@pytest.mark.parametrize(
    ("residual", "kind"),
    [
        (np.full(30, 5.0), "level_shift"),
        (np.concatenate([np.zeros(3), np.full(27, 5.0)]), "level_shift"),
        (np.linspace(0.5, 8, 30), "drift"),
        (np.concatenate([np.linspace(0.3, 8, 20), np.full(10, 8.0)]), "drift"),
    ],
)
def test_classify_change(residual: np.ndarray, kind: str) -> None:
    """Flat after the change is a step; rising throughout is a ramp."""
    assert classify_change(residual) == kind


@pytest.mark.parametrize(
    ("k", "n", "p", "expected"),
    [(0, 10, 0.3, 1.0), (10, 10, 0.5, 0.5**10), (1, 1, 0.2, 0.2)],
)
def test_binomial_tail(k: int, n: int, p: float, expected: float) -> None:
    """P(X ≥ k) for small cases computed by hand."""
    assert binomial_tail(k, n, p) == pytest.approx(expected)


def test_same_input_same_output_and_input_untouched() -> None:
    """Detection is deterministic and does not change the points it is given."""
    values = noise()
    values[100] += 200
    given = points(values)
    copy = list(given)
    assert detect(given) == detect(given)
    assert given == copy


def test_points_out_of_order_are_sorted_first() -> None:
    """Shuffled points give the same anomalies as ordered ones."""
    values = noise()
    values[150] += 150
    ordered = points(values)
    shuffled = [ordered[i] for i in np.random.default_rng(0).permutation(len(ordered))]
    assert detect(shuffled) == detect(ordered)


def test_bad_tuning_is_refused() -> None:
    """A window shorter than its history requirement cannot work."""
    with pytest.raises(ValueError, match="window"):
        Tuning(window=10, min_history=20)
