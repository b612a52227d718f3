"""Logs of failed jobs: fetched through the redirect, stored compressed with a cap, served."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select

from controltower.bootstrap import build
from controltower.config import JobLogSettings, Settings
from controltower.ingest.backfill import backfill
from controltower.ingest.joblogs import fetch_logs, job_log
from controltower.store import schema
from controltower.store.tables import Job, JobLog, WorkflowRun
from controltower.web import create_app
from tests.support.github_history import generate
from tests.support.github_server import FakeGitHub, serve

REPO = "octo-org/octo-repo"


@pytest.fixture
def fake() -> FakeGitHub:
    """Eight runs; runs 4 and 8 fail in their 'test' job."""
    return FakeGitHub([generate(REPO, runs=8, rerun_every=0)])


@pytest.fixture
def configured(settings: Settings, fake: FakeGitHub) -> Iterator[tuple[Settings, Engine]]:
    """Settings pointed at the fake, and a database holding its backfilled history."""
    with serve(fake) as api:
        github = settings.github.model_copy(
            update={"token": SecretStr("test-token"), "api_url": api}
        )
        configured = settings.model_copy(update={"github": github})
        container = build(configured)
        schema.upgrade(container.engine)
        since = datetime(2026, 1, 1, tzinfo=UTC)
        backfill(
            container.engine, github, repositories=[REPO], since=since, until=datetime.now(UTC)
        )
        yield configured, container.engine
        container.close()


def failed_jobs(engine: Engine) -> list[int]:
    """Primary keys of the failed jobs."""
    with engine.connect() as conn:
        return list(conn.execute(select(Job.id).where(Job.conclusion == "failure")).scalars())


def test_logs_of_failed_jobs_only_are_stored_compressed(
    configured: tuple[Settings, Engine], fake: FakeGitHub
) -> None:
    """Each failed job's log is fetched once, gzip-compressed, and reads back whole."""
    settings, engine = configured
    failed = failed_jobs(engine)
    assert len(failed) == 2
    report = fetch_logs(engine, settings)
    assert (report.fetched, report.truncated, report.unavailable) == (2, 0, 0)
    assert report.bytes_stored < report.bytes_read / 5
    assert len(fake.api_requests("/logs")) == 2
    with engine.connect() as conn:
        stored = job_log(conn, failed[0])
        content = conn.execute(select(JobLog.content)).scalars().first() or b""
        assert content[:2] == b"\x1f\x8b"  # gzip
    assert stored is not None
    assert stored.text.endswith("##[error]Process completed with exit code 1.\n")
    assert stored.size == len(stored.text.encode())
    assert fetch_logs(engine, settings).fetched == 0  # nothing asked for twice
    assert len(fake.api_requests("/logs")) == 2


def test_a_long_log_keeps_its_end(configured: tuple[Settings, Engine]) -> None:
    """Above the cap only the end is kept, behind a line that says how much was cut."""
    settings, engine = configured
    capped = settings.model_copy(update={"job_logs": JobLogSettings(max_bytes=300)})
    report = fetch_logs(engine, capped)
    assert report.truncated == 2
    with engine.connect() as conn:
        stored = job_log(conn, failed_jobs(engine)[0])
    assert stored is not None
    assert stored.truncated
    first, rest = stored.text.split("\n", 1)
    assert first.startswith("[controltower: the first ")
    assert len(rest.encode()) == 300
    assert rest.endswith("exit code 1.\n")


def test_a_log_github_no_longer_has_is_recorded_not_retried(
    configured: tuple[Settings, Engine], fake: FakeGitHub
) -> None:
    """A 404 for an expired log is stored as unavailable and not requested again."""
    settings, engine = configured
    fake.inject(404, path="/logs", message="Not Found")
    report = fetch_logs(engine, settings)
    assert (report.fetched, report.unavailable) == (1, 1)
    fetch_logs(engine, settings)
    assert len(fake.api_requests("/logs")) == 2


def test_the_api_serves_a_jobs_log(configured: tuple[Settings, Engine]) -> None:
    """GET /api/v1/jobs/{id}/log is the text, with its truncation flag; 404 without a log."""
    settings, engine = configured
    fetch_logs(engine, settings)
    job = failed_jobs(engine)[0]
    container = build(settings)
    with TestClient(create_app(container)) as client:
        response = client.get(f"/api/v1/jobs/{job}/log")
        missing = client.get("/api/v1/jobs/999999/log")
    container.close()
    assert response.status_code == 200
    assert response.headers["x-log-truncated"] == "false"
    assert "##[error]" in response.text
    assert missing.status_code == 404


def test_a_failed_jobs_page_shows_its_log_or_says_why_there_is_none(
    configured: tuple[Settings, Engine],
) -> None:
    """Before the logs are fetched the page says how they come; after, it shows the log."""
    settings, engine = configured
    job = failed_jobs(engine)[0]
    with engine.connect() as conn:
        run_id = conn.execute(
            select(WorkflowRun.run_id).join(Job, Job.run_pk == WorkflowRun.id).where(Job.id == job)
        ).scalar_one()
    page = f"/repositories/{REPO}/runs/{run_id}/jobs/{job}"
    container = build(settings)
    with TestClient(create_app(container)) as client:
        before = client.get(page)
        fetch_logs(engine, settings)
        after = client.get(page)
    container.close()
    assert before.status_code == after.status_code == 200
    assert "No log stored for this job" in before.text
    assert "controltower fetch-logs" in before.text
    assert "No log stored" not in after.text
    assert 'class="log"' in after.text
    assert "##[error]" in after.text
