"""Chart figures: anomalies are marked on the chart of their metric, on the day they began."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from controltower.store.anomalies import StoredAnomaly
from controltower.telemetry.drilldown import JobRow
from controltower.telemetry.metrics import GroupMetrics, Stats, Window
from controltower.web.charts import (
    MARK_BAND_PX,
    STEP_OUTCOMES,
    histogram,
    timeline,
    trend_charts,
    with_anomalies,
)
from controltower.web.pages.drilldown import job_bars
from controltower.web.pages.filters import prob

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


def _day(n: int, p50: float, p95: float) -> GroupMetrics:
    stats = Stats(10, 10, 0, 0.9, 0.1, p50, p50, p95, None, None, 0)
    return GroupMetrics(f"2026-03-{n:02d}", stats, None, {})


def test_a_day_far_above_the_rest_is_off_the_scale_and_said_to_be() -> None:
    """One day whose p95 is a run stuck for days: the axis ends above the rest, a note says so."""
    days = [_day(n, 120.0 + n, 180.0 + n) for n in range(1, 20)] + [_day(20, 150.0, 1_209_600.0)]
    _success, duration = trend_charts(days)
    top = duration["layout"]["yaxis"]["range"][1]
    assert 3.3 < top < 4.0  # minutes: a little above the usual p95 of about 3.3
    [note] = duration["layout"]["annotations"]
    assert note["text"] == "1 day off the scale, up to 20,160 min"
    assert duration["data"][1]["y"][-1] == 20160.0  # the value itself is kept, for the hover


def test_usual_days_keep_plotly_s_own_scale() -> None:
    """Without values far beyond the rest the axis is left to plotly and nothing is noted."""
    days = [_day(n, 120.0 + n, 180.0 + 9 * n) for n in range(1, 20)]
    _success, duration = trend_charts(days)
    assert "range" not in duration["layout"]["yaxis"]
    assert "annotations" not in duration["layout"]


def test_the_distribution_leaves_out_and_counts_runs_far_beyond_the_rest() -> None:
    """Two runs of days would put every other in the first bin: they are counted, not drawn."""
    seconds = [60.0 * (2 + (n % 7) / 7) for n in range(200)] + [86_400.0, 3 * 86_400.0]
    figure = histogram(seconds)
    assert len(figure["data"][0]["x"]) == 200
    assert max(figure["data"][0]["x"]) < 3
    assert figure["layout"]["annotations"][0]["text"] == "2 longer runs, up to 4,320 min, not drawn"
    assert "annotations" not in histogram(seconds[:200])["layout"]


AT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
Bar = tuple[str, datetime | None, datetime | None, str, str | None]


def _bar(name: str, start_s: float, end_s: float, group: str, result: str) -> Bar:
    """A timeline bar from ``start_s`` to ``end_s`` seconds after ``AT``."""
    return (name, AT + timedelta(seconds=start_s), AT + timedelta(seconds=end_s), group, result)


def test_steps_are_coloured_and_named_by_outcome() -> None:
    """A failed step is its own red trace named in the legend; no bar runs backwards."""
    figure = timeline(
        [
            _bar("1. Set up job", 0, 3, "passed", "success"),
            _bar("2. Build", 3, 90, "failed", "failure"),
            _bar("3. Deploy", 91, 90, "other", "skipped"),
        ],
        STEP_OUTCOMES,
    )
    traces = {t["name"]: t for t in figure["data"]}
    assert list(traces) == ["failed", "passed", "other"]
    assert (traces["failed"]["y"], traces["failed"]["marker"]["color"]) == (["2. Build"], "#cf222e")
    assert traces["other"]["x"] == [0.0]
    order = ["1. Set up job", "2. Build", "3. Deploy"]  # as they ran, across the groups
    assert figure["layout"]["yaxis"]["categoryarray"] == order


def test_a_long_bar_label_is_cut_and_kept_whole_for_the_hover() -> None:
    """A step named at length leaves the bars room: its tick is cut, its category whole."""
    name = "11. Upload Launcher build artifacts for every board we support"
    figure = timeline([_bar(name, 0, 30, "passed", "success")], STEP_OUTCOMES)
    [tick] = figure["layout"]["yaxis"]["ticktext"]
    assert (len(tick), tick[-1]) == (32, "…")
    assert name.startswith(tick[:-1])
    assert figure["data"][0]["y"] == [name]


def test_a_probability_is_never_rounded_to_a_certainty() -> None:
    """0.3% reads as under 1%, 99.7% as over 99%; 0 and 1 (a baseline's) stay as they are."""
    assert [prob(v) for v in (None, 0.0, 0.003, 0.42, 0.997, 1.0)] == [
        "–",
        "0%",
        "<1%",
        "42%",
        ">99%",
        "100%",
    ]


def test_a_job_not_started_keeps_its_row_and_a_running_one_is_named() -> None:
    """Queued jobs are listed without a bar; one running is its own trace in the legend."""
    figure = timeline(
        [
            _bar("build", 0, 180, "critical path", "success"),
            _bar("test", 180, 300, "running", "in_progress"),
            ("deploy", None, None, "other", "queued"),
        ]
    )
    assert [t["name"] for t in figure["data"]] == ["critical path", "running"]
    assert figure["layout"]["yaxis"]["categoryarray"] == ["build", "test", "deploy"]


def _job(name: str, started: datetime | None, completed: datetime | None) -> JobRow:
    return JobRow(
        id=hash(name) % 1000,
        key=name,
        name=name,
        status="completed" if completed else "in_progress",
        conclusion="success" if completed else None,
        created_at=started,
        started_at=started,
        completed_at=completed,
        runner_os="Linux",
        runner_labels=(),
        runner_name=None,
        steps=(),
    )


def test_a_job_whose_end_never_arrived_does_not_stretch_the_timeline_to_now() -> None:
    """A run stored months ago with one job still 'running': GitHub ends a job within 5 days,
    so its end never arrived; its bar ends with the run's known jobs, not today."""
    start = DAY - timedelta(days=400)
    jobs = [
        _job("build", start, start + timedelta(minutes=3)),
        _job("deploy", start + timedelta(minutes=3), None),
    ]
    bars = job_bars(jobs, DAY)
    assert bars[1][2:4] == (start + timedelta(minutes=3, seconds=60), "end not known")
    figure = timeline(bars)
    assert [t["name"] for t in figure["data"]] == ["other", "end not known"]
    recent = [_job("deploy", DAY - timedelta(hours=2), None)]
    assert job_bars(recent, DAY)[0][2:4] == (DAY, "running")  # still running: drawn to now


def test_the_trends_span_the_whole_window_so_a_stop_shows() -> None:
    """Runs stopped on the 5th of a window to the 20th: both axes run to the 20th, not the 4th."""
    days = [_day(n, 120.0, 180.0) for n in range(1, 5)]
    window = Window(
        datetime(2026, 3, 1, 15, 30, tzinfo=UTC), datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    )
    for figure in trend_charts(days, window):
        assert figure["layout"]["xaxis"] == {
            "type": "date",
            "range": ["2026-02-28 12:00", "2026-03-20 12:00"],
        }


def test_the_off_scale_note_leaves_the_anomaly_marks_in_view() -> None:
    """The note sits below the band at the top where anomalies are marked: its background
    hid the marks of the days under it."""
    days = [_day(n, 120.0 + n, 180.0 + n) for n in range(1, 20)] + [_day(20, 150.0, 1_209_600.0)]
    _success, duration = trend_charts(days)
    marked = with_anomalies(
        duration, [_anomaly(started_at=datetime(2026, 3, 19, tzinfo=UTC))], "duration"
    )
    [note] = marked["layout"]["annotations"]
    assert note["yref"] == "paper"
    assert note["y"] == 1
    assert note["yshift"] <= -MARK_BAND_PX
    assert marked["data"][-1]["yaxis"] == "y2"


def test_days_without_runs_are_gaps_in_the_trends_not_zero_nor_joined() -> None:
    """Runs on the 1st, 2nd and 5th: the 3rd and 4th are null points the lines are not drawn
    across, in the success rate and in both durations."""
    success, duration = trend_charts(
        [_day(1, 60.0, 90.0), _day(2, 60.0, 90.0), _day(5, 120.0, 150.0)]
    )
    days = [f"2026-03-{n:02d}" for n in range(1, 6)]
    [rate] = success["data"]
    assert (rate["x"], rate["y"], rate["connectgaps"]) == (days, [0.9, 0.9, None, None, 0.9], False)
    p50, p95 = duration["data"]
    assert p50["x"] == p95["x"] == days
    assert p50["y"] == [1.0, 1.0, None, None, 2.0]
    assert p95["y"] == [1.5, 1.5, None, None, 2.5]
    assert p50["connectgaps"] is p95["connectgaps"] is False


def test_with_no_runs_the_trends_have_nothing_to_draw() -> None:
    """No days at all: empty traces, so the page says there is nothing to draw."""
    for figure in trend_charts([]):
        assert all(trace["x"] == [] and trace["y"] == [] for trace in figure["data"])
