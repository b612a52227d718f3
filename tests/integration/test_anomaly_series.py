"""Series read from the store, and the anomalies found in them, on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update

from controltower.anomaly.findings import findings
from controltower.anomaly.severity import CostBands, metric_severity
from controltower.anomaly.sources import load_series
from controltower.anomaly.tuning import Tuning
from controltower.domain import PushFact
from controltower.ingest.history import parse_record
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.tables import Workflow, table_of
from controltower.store.writer import FactWriter

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
RATE = 0.008


def _run(i: int, seconds: float, conclusion: str = "success", **extra: Any) -> dict[str, Any]:
    created = T0 + timedelta(hours=6 * i)
    return {
        "repository": "octo/app",
        "run_id": i,
        "workflow": "CI",
        "conclusion": conclusion,
        "head_sha": f"sha{i}",
        "created_at": created.isoformat(),
        "started_at": (created + timedelta(seconds=30)).isoformat(),
        "completed_at": (created + timedelta(seconds=30 + seconds)).isoformat(),
        **extra,
    }


def _history() -> list[dict[str, Any]]:
    """200 runs of about 10 minutes that take 22 from run 150 on, on a new runner type."""
    records = []
    for i in range(200):
        seconds = 600 + (i * 37) % 60 if i < 150 else 1300 + (i * 37) % 60
        labels = ["ubuntu-latest"] if i < 150 else ["macos-latest"]
        records.append(_run(i, seconds, runner_labels=labels))
    return records


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    schema.upgrade(engine)
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in _history()])
    yield engine
    engine.dispose()


def test_series_per_workflow_from_the_derived_columns(engine: Engine) -> None:
    """Durations, queue times and outcomes per run; cost and runs per day, gaps as zero."""
    with engine.connect() as conn:
        loaded = load_series(conn, rate=lambda _s, _d: RATE, min_points=30)
        series = {(s.metric, s.name): s for s in loaded}
    duration = series["duration", "octo/app · CI"]
    assert len(duration.points) == 200
    assert duration.points[0].value == pytest.approx(600)
    assert series["queue", "octo/app · CI"].points[0].value == pytest.approx(30)
    assert series["failures", "octo/app · CI"].outcomes
    cost = series["cost", "octo/app · CI"]
    assert cost.points[0].timestamp.date() == date(2026, 1, 1)
    # three runs (08:00, 14:00, 20:00) of 10 or 11 billed minutes on the first day
    assert 30 * RATE <= cost.points[0].value <= 33 * RATE
    assert ("cost", "octo/app") in series
    assert ("runs", "octo/app · CI") in series


def test_a_slowdown_is_found_with_its_commit_runner_and_monthly_cost(engine: Engine) -> None:
    """The slowdown at run 150 is a lasting shift, traced to its commit and the new runner."""
    with engine.connect() as conn:
        series = load_series(conn, ["duration", "cost"], rate=lambda _s, _d: RATE, min_points=30)
    # 50 days of cost: a shorter baseline than the default 60 points
    found = findings(series, Tuning(window=30, min_history=15))
    slower = [f for f in found if f.metric == "duration" and f.anomaly.kind == "level_shift"]
    assert len(slower) == 1
    assert slower[0].anomaly.severity == "critical"
    assert slower[0].trigger == {
        "commit": "sha150",
        "new_runner": "macos",
        "previous_runner": "linux",
    }
    dearer = [f for f in found if f.metric == "cost" and f.anomaly.kind != "spike"]
    assert dearer
    assert dearer[0].usd_per_month is not None
    assert dearer[0].usd_per_month > 0


def _seldom_built(weeks: int = 80) -> list[dict[str, Any]]:
    """Two runs a week (Tuesdays and Thursdays), three times as long from week 50."""
    records = []
    monday = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    for week in range(weeks):
        for weekday in (1, 3):
            created = monday + timedelta(weeks=week, days=weekday)
            seconds = (600 if week < 50 else 1800) + 60 * ((week * 7 + weekday) % 3)
            records.append(
                {
                    **_run(0, seconds),
                    "repository": "octo/seldom",
                    "run_id": week * 10 + weekday,
                    "head_sha": f"w{week}d{weekday}",
                    "created_at": created.isoformat(),
                    "started_at": created.isoformat(),
                    "completed_at": (created + timedelta(seconds=seconds)).isoformat(),
                }
            )
    return records


def _loaded(tmp_path: Path, records: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    engine = make_engine(f"sqlite:///{tmp_path / 'seldom.sqlite'}")
    schema.upgrade(engine)
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in records])
    with engine.connect() as conn:
        loaded = load_series(conn, ["cost", "runs"], rate=lambda _s, _d: RATE)
    engine.dispose()
    return {(s.metric, s.name): s for s in loaded}


@pytest.mark.parametrize(("weeks", "kept"), [(53, True), (52, False)])
def test_a_year_of_weeks_is_enough_to_judge(tmp_path: Path, weeks: int, kept: bool) -> None:
    """Weekly totals need two of their 26-week windows (the last week, not over, left out),
    not the 60 points a daily or per-run series needs."""
    series = _loaded(tmp_path, _seldom_built(weeks))
    assert (("cost", "octo/seldom · CI") in series) is kept
    if kept:
        assert len(series["cost", "octo/seldom · CI"].points) == 52


def test_a_seldom_built_workflow_is_judged_by_its_weekly_cost(tmp_path: Path) -> None:
    """Built on two days of seven: cost and runs come as weekly totals, and the tripled cost
    from week 50 is a lasting change priced per month from the weekly change."""
    series = _loaded(tmp_path, _seldom_built())
    cost = series["cost", "octo/seldom · CI"]
    assert (cost.unit, cost.days_per_point, cost.label) == ("USD per week", 7, "cost weekly")
    assert len(cost.points) == 79  # the last week ends on its Thursday run: not over, left out
    assert cost.points[0].timestamp == datetime(2025, 1, 6, tzinfo=UTC)
    assert cost.points[0].value == pytest.approx((11 + 10) * RATE)  # 660 s and 600 s, billed
    runs = series["runs", "octo/seldom · CI"]
    assert runs.unit == "runs per week"
    assert {p.value for p in runs.points} == {2.0}
    dearer = [
        f
        for f in findings([cost])
        if f.anomaly.kind in ("level_shift", "drift") and f.anomaly.change > 0
    ]
    assert len(dearer) == 1
    assert dearer[0].anomaly.start.date() >= date(2025, 12, 1)  # week 47 or later
    assert dearer[0].usd_per_month == pytest.approx(dearer[0].anomaly.change * 30 / 7)
    # tripled, so critical by its size against normal, but a few dollars a month: info
    assert metric_severity(dearer[0].anomaly.expected, dearer[0].anomaly.observed) == "critical"
    usd, at = abs(dearer[0].usd_per_month or 0.0), dearer[0].anomaly.index
    assert 0 < usd < 50
    assert dearer[0].anomaly.severity == "info"
    for bands, severity in (
        (CostBands(usd / 2, usd * 2), "warning"),
        (CostBands(usd / 4, usd / 2), "critical"),
        (CostBands(0, 0), "critical"),
    ):
        [again] = [f for f in findings([cost], bands=bands) if f.anomaly.index == at]
        assert again.anomaly.severity == severity, bands


def test_a_slowdown_after_a_workflow_file_change_names_the_file(tmp_path: Path) -> None:
    """The same runner throughout; the push that built run 150 changed the workflow file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    schema.upgrade(engine)
    history = [
        _run(i, 600 + (i * 37) % 60 if i < 150 else 1300 + (i * 37) % 60) for i in range(200)
    ]
    pushed = T0 + timedelta(hours=6 * 150)
    with engine.begin() as conn:
        writer = FactWriter(conn)
        writer.upsert_runs([parse_record(r).fact for r in history])
        writer.upsert_push(_push("sha120", pushed, ()))  # a push that changed no workflow file
        writer.upsert_push(_push("sha150", pushed, (".github/workflows/ci.yml",)))
    with engine.connect() as conn:
        series = load_series(conn, ["duration"], rate=lambda _s, _d: RATE, min_points=30)
    engine.dispose()
    [slower] = [f for f in findings(series) if f.anomaly.kind == "level_shift"]
    assert slower.trigger == {"workflow_files": ".github/workflows/ci.yml", "commit": "sha150"}


def _push(after: str, at: datetime, workflow_files: tuple[str, ...]) -> PushFact:
    return PushFact(
        repository="octo/app",
        ref="refs/heads/main",
        before="0" * 40,
        after=after,
        pusher="octocat",
        commits=1,
        distinct_commits=1,
        created=False,
        deleted=False,
        forced=False,
        first_commit_at=at,
        head_commit_at=at,
        workflow_files=workflow_files,
    )


def _daily_runs(workflow: str, days: range, per_day: int) -> list[dict[str, Any]]:
    start = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    first_id = 10**6 * ("CI", "Nightly", "Old").index(workflow)
    return [
        {
            **_run(0, 300),
            "workflow": workflow,
            "run_id": first_id + 10 * day + k,
            "head_sha": f"{workflow}{day}k{k}",
            "created_at": (start + timedelta(days=day, hours=k)).isoformat(),
            "started_at": (start + timedelta(days=day, hours=k)).isoformat(),
            "completed_at": (start + timedelta(days=day, hours=k, minutes=5)).isoformat(),
        }
        for day in days
        for k in range(per_day)
    ]


def test_a_workflow_that_stopped_running_is_told_within_days(tmp_path: Path) -> None:
    """CI ran three times a day and stopped on day 100 while Nightly went on to day 150: CI's
    runs per day go on as zeros to the store's last complete day (day 149; day 150 may not
    be over), and the stop is a level shift to none, told on the third day without a run. A
    workflow that stopped long before is followed for 60 days after its last run, no more."""
    records = _daily_runs("CI", range(100), 3) + _daily_runs("Nightly", range(151), 1)
    records += _daily_runs("Old", range(70), 2)
    engine = make_engine(f"sqlite:///{tmp_path / 'stops.sqlite'}")
    schema.upgrade(engine)
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in records])
    with engine.connect() as conn:
        loaded = load_series(conn, ["runs"], rate=lambda _s, _d: RATE)
    engine.dispose()
    series = {s.name: s for s in loaded}
    assert series["octo/app · CI"].context == []  # no pushes known
    ci, nightly, old = (series[f"octo/app · {w}"] for w in ("CI", "Nightly", "Old"))
    day0 = datetime(2025, 3, 3, tzinfo=UTC)
    assert [len(s.points) for s in (ci, nightly, old)] == [150, 150, 130]
    assert ci.points[-1].timestamp == day0 + timedelta(days=149)
    assert {p.value for p in ci.points[100:]} == {0.0}
    assert {p.value for p in old.points[70:]} == {0.0}
    [stop] = findings([ci])
    assert (stop.anomaly.kind, stop.anomaly.start) == ("level_shift", day0 + timedelta(days=100))
    assert (stop.anomaly.index, stop.anomaly.severity) == (102, "warning")
    assert (stop.anomaly.expected, stop.anomaly.observed) == (3.0, 0.0)
    assert stop.anomaly.details["zeros"] == 3
    assert stop.trigger is None  # no push known
    assert findings([nightly]) == []


def test_more_runs_a_day_is_information_not_an_incident(tmp_path: Path) -> None:
    """A workflow run three times as often is told, but as info: more builds page nobody."""
    records = _daily_runs("CI", range(100), 1) + _daily_runs("CI", range(100, 150), 3)
    engine = make_engine(f"sqlite:///{tmp_path / 'busier.sqlite'}")
    schema.upgrade(engine)
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in records])
    with engine.connect() as conn:
        [runs] = load_series(conn, ["runs"], rate=lambda _s, _d: RATE)
    engine.dispose()
    [busier] = findings([runs])
    assert (busier.anomaly.kind, busier.anomaly.change > 0) == ("level_shift", True)
    assert metric_severity(busier.anomaly.expected, busier.anomaly.observed) == "critical"
    assert busier.anomaly.severity == "info"


def test_a_stop_names_the_push_that_changed_its_workflow_file(tmp_path: Path) -> None:
    """The evening of CI's last run a push changed the nightly workflow's file; the next
    morning one removed CI's own (its path is known from GitHub): the stop names the second.
    The repository's cost names the first push of each day that changed any workflow file."""
    day0 = datetime(2025, 3, 3, tzinfo=UTC)
    records = _daily_runs("CI", range(100), 3) + _daily_runs("Nightly", range(151), 1)
    engine = make_engine(f"sqlite:///{tmp_path / 'pushed.sqlite'}")
    schema.upgrade(engine)
    with engine.begin() as conn:
        writer = FactWriter(conn)
        writer.upsert_runs([parse_record(r).fact for r in records])
        evening, morning = day0 + timedelta(days=99, hours=20), day0 + timedelta(days=100, hours=9)
        writer.upsert_push(_push("sha-nightly", evening, (".github/workflows/nightly.yml",)))
        writer.upsert_push(_push("sha-ci", morning, (".github/workflows/ci.yml",)))
        writer.upsert_push(_push("sha-docs", morning + timedelta(hours=1), ()))
        conn.execute(
            update(table_of(Workflow))
            .where(table_of(Workflow).c.name == "CI")
            .values(path=".github/workflows/ci.yml")
        )
    with engine.connect() as conn:
        loaded = load_series(conn, ["runs", "cost"], rate=lambda _s, _d: RATE)
    engine.dispose()
    series = {(s.metric, s.name): s for s in loaded}
    [stop] = findings([series["runs", "octo/app · CI"]])
    assert stop.anomaly.details["stopped"]
    assert stop.trigger == {"workflow_files": ".github/workflows/ci.yml", "commit": "sha-ci"}
    nightly = series["runs", "octo/app · Nightly"].context  # its path is not known: any file
    assert [(i, c["commit"]) for i, c in enumerate(nightly) if c] == [
        (99, "sha-nightly"),
        (100, "sha-ci"),
    ]
    cost = series["cost", "octo/app"].context
    assert [(i, c["commit"]) for i, c in enumerate(cost) if c] == [
        (99, "sha-nightly"),
        (100, "sha-ci"),
    ]


def test_a_seldom_built_workflow_that_stops_is_followed_for_half_a_year_of_weeks(
    tmp_path: Path,
) -> None:
    """Built two days a week for 60 weeks, then never again while another workflow goes on:
    its weekly totals go on as zero weeks (up to 26, a window of weeks, where a daily series
    gets 60 days), and the stop is told after a few of them."""
    records = _seldom_built(60) + _daily_runs("Nightly", range(500), 1)
    series = _loaded(tmp_path, records)
    runs = series["runs", "octo/seldom · CI"]
    assert runs.days_per_point == 7
    active = [p for p in runs.points if p.value]
    zero_weeks = runs.points[len(active) :]
    assert {p.value for p in zero_weeks} == {0.0}
    assert len(zero_weeks) == 19  # to the last complete week, before 26 weeks are over
    [stop] = [f.anomaly for f in findings([runs]) if f.anomaly.details.get("stopped")]
    assert stop.start == zero_weeks[0].timestamp
    assert stop.index == len(active) + 3  # no zero week in 26: 1 in 28 by Laplace, four in a row


def _job(name: str, start: datetime, seconds: float) -> dict[str, Any]:
    return {
        "name": name,
        "status": "completed",
        "conclusion": "success",
        "started_at": start.isoformat(),
        "completed_at": (start + timedelta(seconds=seconds)).isoformat(),
    }


def _gated_run(i: int, wait: timedelta) -> dict[str, Any]:
    """A build of 5 minutes (and a lint beside it), a deploy to test, then one to production
    a minute and ``wait`` later: 450 s of GitHub's duration, with ``wait``."""
    record = _run(i, 0)
    start = T0 + timedelta(hours=6 * i, seconds=30)
    deployed = start + timedelta(seconds=330)
    production = deployed + timedelta(seconds=60) + wait
    record["completed_at"] = (production + timedelta(seconds=60)).isoformat()
    record["jobs"] = [
        _job("build", start, 300),
        _job("deploy / test", start + timedelta(seconds=310), 20),
        _job("lint", start + timedelta(seconds=5), 200),
        _job("deploy / production", production, 60),
    ]
    return record


@pytest.mark.parametrize(
    ("wait", "judged"),
    [
        (timedelta(days=3), 390.0),  # waited for reviewers: the whole stretch left out
        (timedelta(minutes=5), 450.0 + 300),  # 6 minutes idle: kept
    ],
)
def test_a_run_waiting_between_jobs_is_judged_less_the_wait(
    tmp_path: Path, wait: timedelta, judged: float
) -> None:
    """A deploy that waited days for its environment's reviewers took the pipeline minutes:
    its duration is judged less every stretch over 10 minutes with no job running, and not
    at all less a short one. Without the rule it is GitHub's duration."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    schema.upgrade(engine)
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(_gated_run(i, wait)).fact for i in range(3)])
    stored = 450.0 + wait.total_seconds()
    with engine.connect() as conn:
        (judged_series,) = load_series(conn, ["duration"], rate=lambda _s, _d: RATE, min_points=3)
        (as_stored,) = load_series(
            conn, ["duration"], rate=lambda _s, _d: RATE, min_points=3, wait_between_jobs_s=None
        )
    engine.dispose()
    assert [p.value for p in judged_series.points] == pytest.approx([judged] * 3)
    assert [p.value for p in as_stored.points] == pytest.approx([stored] * 3)
