"""A change in several repositories at once is told as a cause outside each of them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from controltower.anomaly.findings import Finding
from controltower.anomaly.model import Anomaly, Point, Series
from controltower.anomaly.shared import poisson_tail, shared_causes

T0 = datetime(2025, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)


def _finding(repository: str, at: timedelta, *, up: bool = True, kind: str = "spike") -> Finding:
    start = T0 + at
    anomaly = Anomaly(
        kind=kind,  # type: ignore[arg-type]
        severity="warning",
        start=start,
        timestamp=start,
        expected=10.0,
        observed=60.0 if up else 2.0,
        score=9.0,
        index=0,
    )
    return Finding(f"{repository} · CI", "queue", "s", anomaly, {"commit": "abc123"}, None)


def _series(repositories: list[str]) -> list[Series]:
    span = [Point(T0, 1.0), Point(T0 + YEAR, 1.0)]
    return [Series(f"{r} · CI", "queue", "s", span) for r in repositories]


def test_a_spike_in_four_repositories_within_hours_points_outside_them() -> None:
    """Four queue spikes within three hours, against a few a year elsewhere: each names the
    other three and keeps its commit; a spike the same day but ten hours away does not."""
    hours = timedelta(hours=1)
    found = [
        _finding("org/a", 100 * 24 * hours),
        _finding("org/b", 100 * 24 * hours + 1 * hours),
        _finding("org/c", 100 * 24 * hours + 2 * hours),
        _finding("org/d", 100 * 24 * hours + 150 * timedelta(minutes=1)),
        _finding("org/e", 100 * 24 * hours + 13 * hours),
        *(_finding("org/e", d * 24 * hours) for d in (20, 200, 300)),
    ]
    told = shared_causes(found, _series(["org/a", "org/b", "org/c", "org/d", "org/e"]))
    trigger = {f.series: f.trigger or {} for f in told[:5]}
    assert trigger["org/a · CI"] == {
        "commit": "abc123",
        "shared_with": "org/b, org/c, org/d",
        "shared_repositories": "3",
        "shared_chance": trigger["org/a · CI"]["shared_chance"],
        "shared_within": "3 h",
        "shared_since": (T0 + 100 * 24 * hours).isoformat(),
    }
    assert float(trigger["org/a · CI"]["shared_chance"]) < 1e-4
    assert trigger["org/d · CI"]["shared_with"] == "org/a, org/b, org/c"
    assert trigger["org/d · CI"]["shared_since"] == trigger["org/a · CI"]["shared_since"]
    assert trigger["org/e · CI"] == {"commit": "abc123"}


def test_a_pair_that_chance_makes_often_is_not_told() -> None:
    """Where the other repositories change every few hours, one of them near a spike is chance;
    a fall beside rises is not the same change, nor is a drift."""
    hours = timedelta(hours=1)
    busy = [_finding(f"org/r{i}", i * 4 * hours) for i in range(2000)]  # one every 4 hours
    mine = _finding("org/mine", 2 * hours + 10 * 24 * hours)
    told = shared_causes([mine, *busy], _series(["org/mine"] + [f"org/r{i}" for i in range(3)]))
    assert told[0].trigger == {"commit": "abc123"}
    quiet = [
        _finding("org/a", 50 * 24 * hours),
        _finding("org/b", 50 * 24 * hours + hours, up=False),
        _finding("org/c", 50 * 24 * hours + hours, kind="drift"),
    ]
    assert all(f.trigger == {"commit": "abc123"} for f in shared_causes(quiet, _series(["org/a"])))


def test_the_poisson_tail() -> None:
    assert poisson_tail(0, 0.5) == 1.0
    assert abs(poisson_tail(1, 0.5) - (1 - 2.718281828459045**-0.5)) < 1e-12
    assert poisson_tail(3, 0.01) < 2e-7


def test_weekly_totals_falling_together_in_the_same_week_are_told_by_the_week() -> None:
    """Weekly cost falling in four repositories within one week, against a fall a year
    elsewhere: shared, within a week; daily and per-run series of the others are not compared."""
    weeks = [Point(T0 + timedelta(weeks=w), 1.0) for w in range(200)]
    names = ["org/a", "org/b", "org/c", "org/d", "org/e"]
    series = [Series(f"{r} · CI", "cost", "USD per week", weeks, days_per_point=7) for r in names]
    series.append(Series("org/f · CI", "cost", "USD", weeks, days_per_point=1))

    def fall(repository: str, week: float) -> Finding:
        found = _finding(repository, timedelta(weeks=week), up=False, kind="level_shift")
        return replace(found, metric="cost", unit="USD per week")

    found = [
        fall("org/a", 100),
        fall("org/b", 100),
        fall("org/c", 100.5),
        fall("org/d", 101),
        fall("org/e", 30),
        fall("org/f", 100),  # daily: another kind of series
    ]
    told = {f.series: f.trigger or {} for f in shared_causes(found, series)}
    assert told["org/a · CI"]["shared_with"] == "org/b, org/c, org/d"
    assert told["org/a · CI"]["shared_within"] == "a week"
    assert "shared_with" not in told["org/e · CI"]
    assert "shared_with" not in told["org/f · CI"]
