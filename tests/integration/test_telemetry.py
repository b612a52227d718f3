"""Telemetry over the store, on SQLite and PostgreSQL, through the JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from controltower.bootstrap import build
from controltower.config import Settings
from controltower.domain import DeploymentFact, DeploymentStatusFact, PushFact
from controltower.ingest.history import parse_record
from controltower.intelligence.records import HistoryRun
from controltower.store import schema
from controltower.store.writer import FactWriter
from controltower.telemetry import prometheus
from controltower.web import create_app
from tests.support.predictions import store

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def _run(run_id: int, days: float, conclusion: str, seconds: int, **extra: Any) -> dict[str, Any]:
    created = T0 + timedelta(days=days)
    return {
        "repository": extra.pop("repository", "octo/app"),
        "run_id": run_id,
        "workflow": "CI",
        "branch": "main",
        "event": "push",
        "conclusion": conclusion,
        "created_at": created.isoformat(),
        "started_at": (created + timedelta(seconds=5)).isoformat(),
        "completed_at": (created + timedelta(seconds=5 + seconds)).isoformat(),
        **extra,
    }


RECORDS = [
    # previous week: two passes
    _run(1, -6, "success", 100),
    _run(2, -5, "success", 100),
    # this week: a failure re-run to success, a pass, a cancelled run
    _run(3, 1, "failure", 50, head_sha="abc"),
    _run(3, 1, "success", 200, run_attempt=2, head_sha="abc"),
    _run(4, 2, "success", 300),
    _run(5, 3, "cancelled", 10),
    # a job-level run: one billed job, one that waited and never ran
    _run(
        6,
        4,
        "success",
        3600,
        repository="octo/deploy",
        jobs=[
            {
                "name": "build",
                "conclusion": "success",
                "runner_labels": ["windows-latest"],
                "started_at": (T0 + timedelta(days=4)).isoformat(),
                "completed_at": (T0 + timedelta(days=4, seconds=61)).isoformat(),
                "steps": [
                    {
                        "name": "make",
                        "number": 1,
                        "conclusion": "success",
                        "started_at": (T0 + timedelta(days=4)).isoformat(),
                        "completed_at": (T0 + timedelta(days=4, seconds=61)).isoformat(),
                    }
                ],
            },
            {
                "name": "deploy",
                "conclusion": "cancelled",
                "started_at": (T0 + timedelta(days=4)).isoformat(),
                "completed_at": (T0 + timedelta(days=18)).isoformat(),
            },
        ],
    ),
]


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The API over a database (migrated by ``engine``) holding ``RECORDS``."""
    container = build(settings)
    with container.engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in RECORDS])
    with TestClient(create_app(container)) as client:
        yield client
    container.close()


WEEK = {"start": T0.isoformat(), "end": (T0 + timedelta(days=7)).isoformat()}


def test_metrics_per_repository_with_change_against_previous_week(client: TestClient) -> None:
    """Re-runs count once, the latest attempt decides, changes compare with the week before."""
    body = client.get("/api/v1/metrics", params={**WEEK, "repository": "octo/app"}).json()
    (group,) = body["groups"]
    current = group["current"]
    assert group["group"] == "octo/app"
    assert (current["runs"], current["attempts"], current["reruns"]) == (3, 4, 1)
    assert current["success_rate"] == pytest.approx(2 / 3)
    assert current["failure_rate"] == 0.0
    assert current["duration_p50"] == 250.0  # successful attempts 200 and 300
    assert current["flaky_commits"] == 1
    assert group["previous"]["runs"] == 2
    assert group["change"]["success_rate"] == pytest.approx(2 / 3 - 1)


def test_metrics_per_job_and_filters(client: TestClient) -> None:
    """group_by=job lists jobs; a branch filter that matches nothing gives no groups."""
    jobs = client.get("/api/v1/metrics", params={**WEEK, "group_by": "job"}).json()
    assert {g["group"] for g in jobs["groups"]} == {
        "octo/deploy · CI · build",
        "octo/deploy · CI · deploy",
    }
    none = client.get("/api/v1/metrics", params={**WEEK, "branch": "nope"}).json()
    assert none["groups"] == []


def test_cost_bills_jobs_by_the_minute_and_estimates_runs_without_jobs(
    client: TestClient,
) -> None:
    """61 s on Windows bills 2 minutes at 2026's $0.010; the waiting deploy job costs nothing."""
    deploy = client.get("/api/v1/cost", params={**WEEK, "repository": "octo/deploy"}).json()
    assert deploy["total_usd"] == pytest.approx(0.02)
    assert (deploy["jobs_billed"], deploy["jobs_free"], deploy["billed_minutes"]) == (1, 1, 2)
    assert deploy["by_runner"] == {"windows": pytest.approx(0.02), "linux": 0.0}
    app = client.get("/api/v1/cost", params={**WEEK, "repository": "octo/app"}).json()
    # no jobs known: each attempt priced from its duration on Linux at $0.006/min
    assert app["runs_estimated"] == 4
    assert app["billed_minutes"] == 1 + 4 + 5 + 1
    assert app["total_usd"] == pytest.approx(11 * 0.006)


def test_default_window_ends_at_the_newest_run(client: TestClient) -> None:
    """Without a range, the last 30 days up to the newest stored run are shown."""
    body = client.get("/api/v1/metrics").json()
    end = datetime.fromisoformat(body["end"])
    assert end - timedelta(days=30) == datetime.fromisoformat(body["start"])
    assert end > T0 + timedelta(days=4)


def test_bad_parameters_get_422(client: TestClient) -> None:
    """An unknown grouping or a malformed date is refused with a clear validation error."""
    assert client.get("/api/v1/metrics", params={"group_by": "planet"}).status_code == 422
    assert client.get("/api/v1/cost", params={"start": "yesterday"}).status_code == 422


def test_every_refusal_has_one_json_shape(client: TestClient) -> None:
    """Whoever refuses (validation, a missing resource, the store's own errors), the JSON body
    says what kind of error first, then FastAPI's detail as it is."""
    invalid = client.get("/api/v1/metrics", params={"days": "0"})
    assert invalid.json()["error"] == "ValidationError"
    assert invalid.json()["detail"][0]["loc"] == ["query", "days"]
    missing = client.get("/api/v1/repositories/octo/nope/runs/1")
    assert missing.status_code == 404
    assert missing.json() == {"error": "NotFound", "detail": missing.json()["detail"]}
    assert "octo/nope" in missing.json()["detail"]
    unknown = client.post(
        "/api/v1/anomalies/999999/verdict", json={"verdict": "confirmed", "by": "a"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "AnomalyNotFound"
    assert client.get("/no/such/thing").json() == {"error": "NotFound", "detail": "Not Found"}


def test_a_date_without_a_zone_is_utc(client: TestClient) -> None:
    """``start=2026-04-01`` means midnight UTC, on every endpoint that takes a window."""
    day = {"start": "2026-04-01", "end": "2026-04-08T12:00"}
    for path in ("/api/v1/metrics", "/api/v1/cost", "/api/v1/dora", "/api/v1/problems"):
        response = client.get(path, params=day)
        assert response.status_code == 200, (path, response.text)
    body = client.get("/api/v1/metrics", params={**day, "repository": "octo/app"}).json()
    assert datetime.fromisoformat(body["start"]) == datetime(2026, 4, 1, tzinfo=UTC)
    assert datetime.fromisoformat(body["end"]) == T0 + timedelta(days=7)
    assert body["groups"][0]["current"]["runs"] == 3  # the same runs as with zoned times


@pytest.mark.parametrize(
    "params",
    [
        {"days": "0"},
        {"days": "-5"},
        {"days": "100000"},
        {"start": "2026-04-08", "end": "2026-04-01"},
        {"start": "2026-04-08T00:00:00Z", "end": "2026-04-08T00:00:00Z"},
        {"start": "2999-01-01"},  # after the window's default end: the newest run
    ],
)
def test_an_empty_or_inverted_window_is_refused(client: TestClient, params: dict[str, str]) -> None:
    """A window with no length, or ending before it starts, is a 422 naming the problem."""
    response = client.get("/api/v1/metrics", params=params)
    assert response.status_code == 422
    assert response.json()["error"] == "ValidationError"  # whichever check refused it
    [problem] = response.json()["detail"]
    field = "days" if "days" in params else "start"
    assert problem["loc"] == ["query", field]
    assert field == "days" or "start must be before end" in problem["msg"]


def test_dora_from_github_deployment_statuses_and_pushes(settings: Settings) -> None:
    """Production deployments with success/failure statuses and their pushes give the keys."""
    container = build(
        settings.model_copy(
            update={
                "telemetry": settings.telemetry.model_copy(
                    update={
                        "dora": settings.telemetry.dora.model_copy(
                            update={"deployment_workflows": []}
                        )
                    }
                )
            }
        )
    )
    schema.upgrade(container.engine)

    def deployment(n: int, hours: float, state: str, env: str = "production") -> None:
        at = T0 + timedelta(hours=hours)
        dep = DeploymentFact(
            "octo/web",
            str(n),
            f"sha{n}",
            "main",
            "deploy",
            env,
            "ci",
            None,
            None,
            None,
            None,
            at,
            at,
            snapshot=f"{n}",
        )
        status = DeploymentStatusFact(
            dep,
            f"s{n}",
            state,
            env,
            None,
            "ci",
            None,
            None,
            at + timedelta(minutes=5),
            at + timedelta(minutes=5),
            snapshot=f"{n}",
        )
        push = PushFact(
            "octo/web",
            "refs/heads/main",
            "0",
            f"sha{n}",
            "dev",
            1,
            1,
            False,
            False,
            False,
            at - timedelta(hours=3),
            at - timedelta(hours=3),
            snapshot=f"{n}",
        )
        with container.engine.begin() as conn:
            writer = FactWriter(conn)
            writer.upsert_deployment_status(status)
            writer.upsert_push(push)

    deployment(1, 0, "success")
    deployment(2, 24, "failure")
    deployment(3, 26, "success")
    deployment(4, 30, "success", env="staging")  # not production: not counted
    with TestClient(create_app(container)) as client:
        body = client.get("/api/v1/dora", params=WEEK).json()
        page = client.get("/dora", params={"days": 365}).text
    container.close()
    assert body["deployments"] == 3
    # the page lists the deployments the keys count, newest first, each linking to its repository
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 3
    assert ["failed" in r for r in rows] == [False, True, False]
    assert all('href="/repositories/octo/web?days=365"' in r for r in rows)
    assert body["deployment_frequency"]["value"] == pytest.approx(2 / 7)
    assert body["lead_time"]["value"] == pytest.approx(3 * 3600 + 300)
    assert body["lead_time"]["coverage"] == 1.0
    assert body["change_failure_rate"]["value"] == pytest.approx(1 / 3)
    assert body["change_failure_rate"]["band"] == "low"
    assert body["time_to_restore"]["value"] == pytest.approx(2 * 3600)
    assert body["time_to_restore"]["band"] == "high"


def test_dora_from_workflows_configured_as_deployments(settings: Settings) -> None:
    """With "ci" configured as a deployment workflow, its completed runs on main count.

    Run 3 failed and passed on re-run (its latest attempt counts: a success),
    run 4 passed, run 5 was cancelled (neither). Lead time is known only for
    run 3, whose commit was first built when its first attempt was requested.
    """
    dora_settings = settings.telemetry.dora.model_copy(update={"deployment_workflows": ["ci"]})
    container = build(
        settings.model_copy(
            update={"telemetry": settings.telemetry.model_copy(update={"dora": dora_settings})}
        )
    )
    schema.upgrade(container.engine)
    with container.engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in RECORDS])
    with TestClient(create_app(container)) as client:
        body = client.get("/api/v1/dora", params={**WEEK, "repository": "octo/app"}).json()
    container.close()
    assert body["deployments"] == 2
    assert body["change_failure_rate"]["value"] == 0.0
    assert (body["lead_time"]["covered"], body["lead_time"]["eligible"]) == (1, 2)
    assert body["lead_time"]["value"] == pytest.approx(5 + 200)


def test_prometheus_exposition_uses_otel_names_and_low_cardinality_labels(
    client: TestClient,
) -> None:
    """/metrics has the run-duration histogram and error counter, labelled by repo and workflow."""
    response = client.get("/metrics/")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    histogram = families["cicd_pipeline_run_duration_seconds"]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in histogram.samples}
    app_success = (("repository", "octo/app"), ("result", "success"), ("workflow", "CI"))
    assert samples[("cicd_pipeline_run_duration_seconds_count", app_success)] == 4
    # successful attempts of 100, 100, 200 and 300 s
    assert samples[("cicd_pipeline_run_duration_seconds_sum", app_success)] == 700
    le_120 = tuple(sorted((*app_success, ("le", "120.0"))))
    assert samples[("cicd_pipeline_run_duration_seconds_bucket", le_120)] == 2  # the two 100 s
    errors = families["cicd_pipeline_run_errors"]
    assert [
        (s.labels["error_type"], s.value) for s in errors.samples if s.name.endswith("_total")
    ] == [("failure", 1)]
    labels = {key for family in families.values() for s in family.samples for key in s.labels}
    assert labels <= {"repository", "workflow", "result", "error_type", "state", "le"}


def test_the_active_runs_gauge_leaves_out_runs_github_has_ended_since(engine: Engine) -> None:
    """A run reported queued three days ago or in progress a year ago is not active: GitHub
    cancels a run queued over a day and ends any run within 35 days; its end never arrived."""
    now = datetime.now(UTC).timestamp()
    day = 86400.0
    store(
        engine,
        [
            HistoryRun("org/app", "1", status="in_progress", created=now - 400 * day),
            HistoryRun("org/app", "2", status="queued", created=now - 3 * day),
            HistoryRun("org/app", "3", status="queued", created=now - 600),
            HistoryRun("org/app", "4", status="in_progress", created=now - 3600),
            HistoryRun("org/app", "5", status="waiting", created=now - 2 * day),
        ],
    )
    with engine.connect() as conn:
        [active] = [f for f in prometheus.families(conn) if f.name == "cicd_pipeline_run_active"]
    states = {s.labels["state"]: s.value for s in active.samples}
    assert states == {"pending": 2.0, "executing": 1.0}
