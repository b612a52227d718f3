"""Workflow, run and job drill-down, active problems and the feed, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from controltower.bootstrap import build
from controltower.config import Settings
from controltower.ingest.history import parse_record
from controltower.store import queries, schema
from controltower.store.engine import reading
from controltower.store.tables import Delivery, table_of
from controltower.store.writer import FactWriter
from controltower.telemetry import activity, drilldown, feed
from controltower.telemetry.metrics import Window
from controltower.telemetry.scope import Filters
from controltower.web import create_app

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
WINDOW = Window(T0 - timedelta(days=10), T0 + timedelta(days=10))


def at(seconds: float) -> str:
    """T0 plus ``seconds``, as the history format writes it."""
    return (T0 + timedelta(seconds=seconds)).isoformat()


def job(name: str, start: float, end: float, conclusion: str = "success") -> dict[str, Any]:
    """A job with two steps splitting its time."""
    middle = start + (end - start) / 4
    return {
        "name": name,
        "conclusion": conclusion,
        "started_at": at(start),
        "completed_at": at(end),
        "steps": [
            {
                "name": "Set up job",
                "number": 1,
                "conclusion": "success",
                "started_at": at(start),
                "completed_at": at(middle),
            },
            {
                "name": "Run tests",
                "number": 2,
                "conclusion": conclusion,
                "started_at": at(middle),
                "completed_at": at(end),
            },
        ],
    }


def run(run_id: int, offset: float, conclusion: str, **extra: Any) -> dict[str, Any]:
    """A run of octo/app's CI on main, ``offset`` seconds after T0."""
    return {
        "repository": "octo/app",
        "run_id": run_id,
        "workflow": "CI",
        "branch": "main",
        "event": "push",
        "head_sha": f"sha{run_id}",
        "conclusion": conclusion,
        "created_at": at(offset),
        "started_at": at(offset + 5),
        "completed_at": at(offset + 600),
        **extra,
    }


RECORDS = [
    run(
        1,
        0,
        "success",
        jobs=[
            job("build", 5, 200),
            job("lint", 5, 100),
            job("test", 205, 500),
            job("deploy", 505, 600),
        ],
    ),
    run(2, 3600, "failure", jobs=[job("build", 3605, 3800), job("test", 3805, 3900, "failure")]),
    run(  # re-run at 4000 s: GitHub keeps the run's created_at, its run_started_at is new
        2,
        3600,
        "success",
        run_attempt=2,
        started_at=at(4000),
        completed_at=at(4600),
        jobs=[job("build", 4005, 4200), job("test", 4205, 4600)],
    ),
    run(3, 7200, "success"),
    run(4, 10800, "failure"),
    run(5, 14400, "cancelled"),
    run(6, 18000, "failure"),
]


def _load(engine: Engine) -> None:
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in RECORDS])


def test_run_detail_has_its_attempts_jobs_steps_and_critical_path(engine: Engine) -> None:
    """The latest attempt by default; the chain build → test → deploy is the critical path."""
    _load(engine)
    with engine.connect() as conn:
        first = drilldown.run_detail(reading(conn), "octo/app", "1")
        rerun = drilldown.run_detail(conn, "octo/app", "2")
        earlier = drilldown.run_detail(conn, "octo/app", "2", attempt=1)
        assert drilldown.run_detail(conn, "octo/app", "2", attempt=3) is None
        assert drilldown.run_detail(conn, "other/repo", "1") is None
    assert first is not None
    assert rerun is not None
    assert earlier is not None
    assert [j.name for j in first.critical_path] == ["build", "test", "deploy"]
    assert {j.name: len(j.steps) for j in first.jobs}["test"] == 2
    assert first.queue_s == 5
    assert (rerun.attempt, rerun.attempts, rerun.conclusion) == (2, (1, 2), "success")
    assert (earlier.queue_s, rerun.queue_s) == (5, 5)  # each from its own request, not 405 s
    assert (earlier.attempt, earlier.conclusion) == (1, "failure")
    assert [j.name for j in earlier.critical_path] == ["build", "test"]


def test_steps_rank_by_median_and_jobs_have_a_history(engine: Engine) -> None:
    """The test job's step 'Run tests' is slowest; the job's history has every execution."""
    _load(engine)
    scope = Filters("octo/app", "CI")
    with engine.connect() as conn:
        steps = drilldown.slowest_steps(conn, WINDOW, scope)
        history = drilldown.job_history(conn, WINDOW, scope, "test")
        durations = drilldown.successful_durations(conn, WINDOW, scope)
        found = drilldown.workflow_ids(conn, "octo/app")
        workflow = drilldown.find_workflow(conn, "octo/app", found["CI"])
        assert drilldown.find_workflow(conn, "nobody/else", found["CI"]) is None
    assert (steps[0].job, steps[0].step, steps[0].samples) == ("test", "Run tests", 3)
    assert steps[0].p50 == 221.25  # runs 1, 2 and its re-run: 221.25, 71.25, 296.25 s
    assert sum(s.failures for s in steps) == 1
    assert [p.seconds for p in history.points] == [295, 95, 395]
    assert history.stats.runs == 2
    assert history.stats.flaky_commits == 1
    assert sorted(durations) == [595.0, 595.0, 600.0]  # runs 1, 3, 2 (attempt 2)
    assert workflow is not None
    assert workflow.name == "CI"


def test_a_failing_default_branch_is_a_problem_since_its_first_failure(
    engine: Engine, settings: Settings
) -> None:
    """Run 4 failed after run 3 passed, 5 was cancelled, 6 failed: failing since run 4."""
    _load(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(Delivery)).values(
                guid="g-1",
                event="workflow_run",
                content_type="application/json",
                body=b"{}",
                received_at=T0,
                state="failed",
                note="bad",
            )
        )
    with engine.connect() as conn:
        found, count = activity.problems(
            conn, WINDOW, Filters(), settings.telemetry, now=T0 + timedelta(hours=1)
        )
        on_branch, none = activity.problems(
            conn, WINDOW, Filters(branch="release"), settings.telemetry, now=T0
        )
    kinds = {p.kind: p for p in found}
    assert count == 2
    assert set(kinds) == {"failing-branch", "ingest-failed"}
    failing = kinds["failing-branch"]
    assert (failing.run_id, failing.repository) == ("6", "octo/app")
    assert failing.since == T0 + timedelta(seconds=10800)
    assert [p.kind for p in on_branch] == ["ingest-failed"]
    assert none == 1


def test_ingest_that_went_quiet_or_fell_behind_is_a_problem(
    engine: Engine, settings: Settings
) -> None:
    """Pending over the threshold is a backlog; no delivery for a day is reported."""
    rows = [
        {
            "guid": f"p-{i}",
            "event": "push",
            "content_type": "application/json",
            "body": b"{}",
            "received_at": T0,
            "state": "pending",
        }
        for i in range(3)
    ]
    with engine.begin() as conn:
        conn.execute(insert(table_of(Delivery)), rows)
    telemetry = settings.telemetry.model_copy(
        update={
            "problems": settings.telemetry.problems.model_copy(
                update={"backlog_warning": 2, "backlog_critical": 3}
            )
        }
    )
    with engine.connect() as conn:
        found, _ = activity.problems(conn, WINDOW, Filters(), telemetry, now=T0 + timedelta(days=2))
    kinds = {p.kind: p for p in found}
    assert kinds["ingest-backlog"].severity == "critical"
    assert kinds["ingest-backlog"].since == T0
    assert kinds["ingest-quiet"].severity == "warning"
    assert found[0].kind == "ingest-backlog"  # worst first


def test_the_feed_lists_the_latest_runs_newest_first(engine: Engine) -> None:
    """Finished runs, newest first, with their outcome and attempt; a run is #N by GitHub's
    run number, and by its id where the number is not known (history files)."""
    _load(engine)
    with engine.begin() as conn:
        numbered = run(7, 21600, "success", run_number=41)
        FactWriter(conn).upsert_runs([parse_record(numbered).fact])
    with engine.connect() as conn:
        events = feed.feed(conn, Filters(), limit=3)
        filtered = feed.feed(conn, Filters(branch="nope"))
    assert [e.run_id for e in events] == ["7", "6", "5"]
    assert events[0].text == "CI #41 on main: success"
    assert events[1].outcome == "failure"
    assert events[1].text == "CI run 6 on main: failure"
    assert filtered == []


def test_the_api_serves_runs_problems_and_events(settings: Settings) -> None:
    """/api/v1/repositories/…/runs/…, /problems and /events answer with the same figures."""
    container = build(settings)
    schema.upgrade(container.engine)
    _load(container.engine)
    try:
        with TestClient(create_app(container)) as client:
            run = client.get("/api/v1/repositories/octo/app/runs/1").json()
            first = client.get("/api/v1/repositories/octo/app/runs/2", params={"attempt": 1})
            missing = client.get("/api/v1/repositories/octo/app/runs/99")
            problems = client.get("/api/v1/problems", params={"days": 30}).json()
            events = client.get("/api/v1/events", params={"limit": 2}).json()
            spec = client.get("/openapi.json").json()
    finally:
        container.close()
    assert run["critical_path"] == ["build", "test", "deploy"]
    assert [j["name"] for j in run["run"]["jobs"]][:2] == ["build", "lint"]
    assert first.json()["run"]["conclusion"] == "failure"
    assert missing.status_code == 404
    assert problems["count"] == 1
    assert problems["problems"][0]["kind"] == "failing-branch"
    assert [e["run_id"] for e in events] == ["6", "5"]
    assert {"/api/v1/problems", "/api/v1/events"} <= set(spec["paths"])


def test_recent_runs_are_those_of_the_period(engine: Engine) -> None:
    """The runs tables list runs created in the period asked for, its end excluded."""
    _load(engine)
    hours = [T0 + timedelta(hours=h) for h in (0, 2, 4)]
    with engine.connect() as conn:
        everything = queries.recent_runs(conn, repository="octo/app")
        middle = queries.recent_runs(conn, repository="octo/app", within=(hours[0], hours[1]))
        later = queries.recent_runs(conn, within=(hours[2], hours[2] + timedelta(days=1)))
        before = queries.recent_runs(conn, within=(T0 - timedelta(days=9), T0))
    assert [r.run_id for r in everything] == ["6", "5", "4", "3", "2", "2", "1"]
    assert [(r.run_id, r.attempt) for r in middle] == [("2", 2), ("2", 1), ("1", 1)]
    assert [r.run_id for r in later] == ["6", "5"]
    assert before == []


def test_plotly_js_goes_gzipped_and_once_per_version(settings: Settings) -> None:
    """The 4.8 MB script every page loads is sent gzipped to a browser that takes it (under a
    third of its size), and a browser holding it gets a 304 on asking again."""
    container = build(settings)
    schema.upgrade(container.engine)
    try:
        with TestClient(create_app(container)) as client:
            plain = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "identity"})
            zipped = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
            again = client.get(
                "/static/plotly.min.js",
                headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]},
            )
    finally:
        container.close()
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.content == plain.content  # decoded by the client
    assert "max-age" in zipped.headers["cache-control"]
    assert again.status_code == 304


def test_the_run_page_tells_a_wait_between_jobs_and_dates_a_job_begun_days_later(
    settings: Settings,
) -> None:
    """A deploy approved two days after the build: the page says the run's time was mostly a
    wait with no job running, and the deploy's start carries its date, not only its hour."""
    gated = run(
        7,
        0,
        "success",
        completed_at=at(2 * 86400 + 700),
        jobs=[job("build", 5, 200), job("deploy", 2 * 86400 + 600, 2 * 86400 + 700)],
    )
    container = build(settings)
    schema.upgrade(container.engine)
    with container.engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in [gated, RECORDS[0]]])
    try:
        with TestClient(create_app(container)) as client:
            page = client.get("/repositories/octo/app/runs/7").text
            ordinary = client.get("/repositories/octo/app/runs/1").text
    finally:
        container.close()
    assert "2.0 d of it between jobs with none running" in page
    assert "2026-06-03 08:10:00" in page  # the deploy's start, two days after the build's
    assert "08:00:05" in page  # the build's, on the run's first day: its hour is enough
    assert "between jobs with none running" not in ordinary
    assert "<title>CI · run 7 · controltower</title>" in page  # no run number: not "#7"
