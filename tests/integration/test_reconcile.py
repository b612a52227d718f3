"""Reconciliation against the fake GitHub API: what webhooks missed is found, fetched, measured."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from controltower.bootstrap import build
from controltower.config import Settings
from controltower.ingest.normalize import normalize
from controltower.ingest.processing import write_fact
from controltower.ingest.reconcile import reconcile
from controltower.store.tables import Job, Reconciliation, WorkflowRun
from controltower.store.writer import FactWriter
from controltower.telemetry.completeness import active_problems, data_completeness
from controltower.web import create_app
from tests.support.github_history import FakeRepository, generate
from tests.support.github_server import FakeGitHub, serve

REPO = "octo-org/octo-repo"


@pytest.fixture
def history() -> FakeRepository:
    """20 runs over the last few hours, one attempt each."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    return generate(REPO, runs=20, start=start, rerun_every=0)


@pytest.fixture
def api(history: FakeRepository) -> Iterator[str]:
    """The fake API over ``history``."""
    with serve(FakeGitHub([history])) as url:
        yield url


@pytest.fixture
def github_settings(settings: Settings, api: str) -> Settings:
    """The test's settings with GitHub pointed at the fake."""
    github = settings.github.model_copy(
        update={"token": SecretStr("test-token"), "api_url": api, "backoff_base_s": 0.01}
    )
    return settings.model_copy(update={"github": github})


def deliver(engine: Engine, event: str, payload: dict[str, Any]) -> None:
    """Store the facts of one webhook delivery, as the worker does."""
    with engine.begin() as conn:
        writer = FactWriter(conn)
        for fact in normalize(event, {**payload, "repository": {"full_name": REPO}}).facts:
            write_fact(writer, fact)


def deliver_run(engine: Engine, history: FakeRepository, n: int, *, jobs: bool = True) -> None:
    """What webhooks would have delivered for run ``n``."""
    run = history.runs[n]
    deliver(engine, "workflow_run", {"action": "completed", "workflow_run": run.latest})
    for job in run.jobs[-1] if jobs else []:
        deliver(engine, "workflow_job", {"action": "completed", "workflow_job": job})


@pytest.fixture
def engine_with_gaps(
    github_settings: Settings, history: FakeRepository, engine: Engine
) -> Iterator[Engine]:
    """On the store ``engine`` migrated: 17 runs whole, one without jobs, one stuck, two lost."""
    container = build(github_settings)
    for n in range(17):
        deliver_run(container.engine, history, n, jobs=n != 5)
    stuck = copy.deepcopy(history.runs[17].latest)
    stuck.update(status="in_progress", conclusion=None, updated_at=stuck["run_started_at"])
    deliver(container.engine, "workflow_run", {"action": "in_progress", "workflow_run": stuck})
    deliver(
        container.engine,
        "workflow_job",
        {"action": "completed", "workflow_job": history.runs[19].jobs[-1][0]},
    )
    yield container.engine
    container.close()


def test_missing_stale_and_jobless_runs_are_fetched_and_measured(
    engine_with_gaps: Engine, github_settings: Settings
) -> None:
    """18 of 20 had arrived (0.9); 2 missing, 1 behind, 1 without jobs are fetched."""
    engine = engine_with_gaps
    (result,) = reconcile(engine, github_settings)
    assert result.repository == REPO  # found from the webhook deliveries, not configured
    assert (result.listed, result.arrived, result.missing, result.stale, result.jobs_missing) == (
        20,
        18,
        2,
        1,
        1,
    )
    assert result.fetched == 4
    assert result.completeness == pytest.approx(0.9)
    with engine.connect() as conn:
        statuses = conn.execute(
            select(WorkflowRun.status, func.count()).group_by(WorkflowRun.status)
        ).all()
        assert dict(statuses) == {"completed": 20}
        assert conn.execute(select(func.count()).select_from(Job)).scalar_one() == 60
    (again,) = reconcile(engine, github_settings)
    assert (again.missing, again.stale, again.jobs_missing, again.fetched) == (0, 0, 0, 0)
    assert again.completeness == pytest.approx(17 / 20)  # 17's completion came from the API


def test_completeness_and_problems_from_the_latest_pass(
    engine_with_gaps: Engine, github_settings: Settings
) -> None:
    """The figure is the latest pass's; below the threshold it is an active problem."""
    engine = engine_with_gaps
    with engine.connect() as conn:
        assert data_completeness(conn).completeness is None
        assert active_problems(conn) == []
    reconcile(engine, github_settings)
    with engine.connect() as conn:
        report = data_completeness(conn, 0.99)
        assert report.completeness == pytest.approx(0.9)
        assert report.below_threshold
        problems = active_problems(conn, 0.99)
        assert [p.subject for p in problems] == ["all repositories", REPO]
        assert "18 of 20" in problems[1].summary
        assert active_problems(conn, 0.85) == []


def test_api_and_metrics_show_completeness(
    engine_with_gaps: Engine, github_settings: Settings
) -> None:
    """/api/v1/completeness, /api/v1/problems and the Prometheus gauge agree."""
    reconcile(engine_with_gaps, github_settings)
    container = build(github_settings)
    with TestClient(create_app(container)) as client:
        body = client.get("/api/v1/completeness").json()
        assert body["completeness"] == pytest.approx(0.9)
        assert body["threshold"] == 0.99
        assert body["repositories"][0]["missing"] == 2
        problems = client.get("/api/v1/problems").json()["problems"]
        completeness = [p for p in problems if p["kind"] == "data-completeness"]
        assert {p["repository"] for p in completeness} == {None, REPO}
        overview = client.get("/").text
        metrics = client.get("/metrics/").text
    assert "Data completeness" in overview
    assert "90.0%" in overview
    assert f'controltower_data_completeness_ratio{{repository="{REPO}"}} 0.9' in metrics
    container.close()


def test_the_scheduled_task_reconciles(engine_with_gaps: Engine, github_settings: Settings) -> None:
    """The periodic task is registered when GitHub credentials exist, and records a pass."""
    settings = github_settings.model_copy(update={"queue_url": "immediate://"})
    container = build(settings)
    assert container.tasks.reconcile is not None
    container.tasks.reconcile()
    with container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Reconciliation)).scalar_one() == 1
    container.close()
    without = build(
        github_settings.model_copy(
            update={"github": github_settings.github.model_copy(update={"token": None})}
        )
    )
    assert without.tasks.reconcile is None
    without.close()
