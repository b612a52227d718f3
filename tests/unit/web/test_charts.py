"""Chart figures: anomalies are marked on the chart of their metric, on the day they began."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from controltower.store.anomalies import StoredAnomaly
from controltower.web.charts import with_anomalies

DAY = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
FIGURE: dict[str, Any] = {
    "data": [{"type": "scatter", "name": "p50", "x": ["2026-03-03", "2026-03-04"], "y": [5, 9]}],
    "layout": {"yaxis": {"title": {"text": "minutes"}}},
}


def _anomaly(
    metric: str = "duration", started_at: datetime = DAY, **extra: object
) -> StoredAnomaly:
    values: dict[str, object] = {
        "id": 1,
        "series": "org/app · CI",
        "metric": metric,
        "unit": "s",
        "kind": "level_shift",
        "severity": "warning",
        "started_at": started_at,
        "detected_at": started_at,
        "expected": 300.0,
        "observed": 540.0,
        "score": 8.0,
        "usd_per_month": None,
        "trigger": None,
        "first_seen_at": started_at,
        "last_seen_at": started_at,
        "resolved_at": None,
        **extra,
    }
    return StoredAnomaly(**values)  # type: ignore[arg-type]


def test_an_anomaly_is_marked_on_its_day_with_words_and_the_figure_passed_in_is_kept() -> None:
    """A marker trace on the anomaly's day, a dotted line, hover text in words; input unchanged."""
    before = copy.deepcopy(FIGURE)
    marked = with_anomalies(FIGURE, [_anomaly()], "duration")
    assert before == FIGURE
    trace = marked["data"][-1]
    assert trace["name"] == "anomaly"
    assert trace["x"] == ["2026-03-04"]
    assert trace["text"][0].startswith("warning: level shift in duration of org/app · CI")
    assert "9.0 min against a normal 5.0 min (+80%)" in trace["text"][0]
    assert [shape["x0"] for shape in marked["layout"]["shapes"]] == ["2026-03-04"]
    assert marked["layout"]["yaxis"] == FIGURE["layout"]["yaxis"]


def test_anomalies_of_other_metrics_or_days_outside_the_chart_are_not_marked() -> None:
    """Cost and failure anomalies stay off the duration chart; so does a day it does not show."""
    others = [
        _anomaly("cost"),
        _anomaly("failures"),
        _anomaly(started_at=datetime(2026, 2, 1, tzinfo=UTC)),
    ]
    assert with_anomalies(FIGURE, others, "duration") is FIGURE
    failures = with_anomalies(FIGURE, others, "success")
    assert failures["data"][-1]["x"] == ["2026-03-04"]
    assert len(failures["data"][-1]["x"]) == 1


def test_a_cost_anomaly_says_its_monthly_impact() -> None:
    """A lasting change of cost per day carries its impact in dollars a month in the hover text."""
    marked = with_anomalies(FIGURE, [_anomaly("cost", usd_per_month=412.5, unit="USD")], "cost")
    assert "+412 USD a month" in marked["data"][-1]["text"][0]
