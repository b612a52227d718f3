"""An anomaly in words: values in their unit, the change against normal, stops named as such."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controltower.store.anomalies import StoredAnomaly
from controltower.telemetry.anomaly_words import amount_words, anomaly_words

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _anomaly(
    metric: str, unit: str, expected: float, observed: float, **extra: object
) -> StoredAnomaly:
    values: dict[str, object] = {
        "id": 1,
        "series": "org/app · CI",
        "metric": metric,
        "unit": unit,
        "kind": "level_shift",
        "severity": "warning",
        "started_at": AT,
        "detected_at": AT,
        "expected": expected,
        "observed": observed,
        "score": 9.0,
        "usd_per_month": None,
        "trigger": None,
        "first_seen_at": AT,
        "last_seen_at": AT,
        "resolved_at": None,
        **extra,
    }
    return StoredAnomaly(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "unit", "words"),
    [
        (39.0, "s", "39 s"),
        (175.5, "s", "2.9 min"),
        (5400.0, "s", "1.5 h"),
        (1_206_000.0, "s", "14.0 d"),
        (0.45, "failed", "45% failed"),
        (1.0, "runs", "1 run a day"),
        (2.5, "runs per week", "2.5 runs a week"),
        (0.2083, "USD", "$0.21 a day"),
        (1234.5, "USD per week", "$1,234.50 a week"),
        (3.0, "requests", "3 requests"),
        (2.4, "USD when it ran", "$2.40 a day it ran"),
        (6.0, "runs per week when it ran", "6 runs a week it ran"),
    ],
)
def test_a_value_reads_in_its_unit(value: float, unit: str, words: str) -> None:
    """Durations in the largest unit that fits, shares as percentages, totals per day or week
    (of the days or weeks with runs alone, where the unit says so)."""
    assert amount_words(value, unit) == words


def test_the_detail_gives_both_values_in_the_unit_and_the_change() -> None:
    """Observed and normal in the same unit, then how far apart: a percentage, or a multiple."""
    slower = anomaly_words(_anomaly("duration", "s", 300.0, 540.0))
    assert slower == (
        "level shift in duration of org/app · CI",
        "9.0 min against a normal 5.0 min (+80%)",
    )
    stuck = anomaly_words(_anomaly("duration", "s", 175.5, 1_206_000.0))[1]
    assert stuck == "14.0 d against a normal 2.9 min (6,872 times normal)"
    job = anomaly_words(_anomaly("job_duration", "s", 60.0, 150.0))[0]
    assert job == "level shift in job duration of org/app · CI"  # the metric in words
    from_nothing = anomaly_words(_anomaly("runs", "runs", 0.0, 1.0))[1]
    assert from_nothing == "1 run a day against a normal 0 runs a day"


def test_a_fall_of_runs_to_nothing_is_a_stop_since_its_day() -> None:
    """Runs or cost falling to zero is told as the workflow having stopped."""
    title, detail = anomaly_words(_anomaly("cost", "USD", 1.5, 0.0, usd_per_month=-45.0))
    assert title == "stop in cost of org/app · CI"
    assert detail == "none since 2026-03-02, against a normal $1.50 a day; -45 USD a month"


def test_a_change_shared_with_other_repositories_says_so_in_the_alert() -> None:
    """The detail an alert carries names the other repositories and where the cause likely is."""
    trigger = {
        "commit": "abc",
        "shared_with": "org/b, org/c, org/d",
        "shared_repositories": "5",
        "shared_within": "3 h",
        "shared_chance": "1e-06",
    }
    detail = anomaly_words(_anomaly("queue", "s", 5.0, 600.0, trigger=trigger))[1]
    assert detail.endswith(
        "; also in 5 other repositories within 3 h (org/b, org/c, org/d, …):"
        " likely a cause outside the repository"
    )
    one = {**trigger, "shared_with": "org/b", "shared_repositories": "1"}
    assert (
        "also in 1 other repository within 3 h (org/b):"
        in anomaly_words(_anomaly("queue", "s", 5.0, 600.0, trigger=one))[1]
    )
    assert "also in" not in anomaly_words(_anomaly("queue", "s", 5.0, 600.0))[1]
