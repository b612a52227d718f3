"""Backfill from the fake GitHub server into a real database: completeness, splitting,
convergence with webhooks, rate limits and resuming after an interruption."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import Engine, func, select, text

from controltower.ingest.backfill import BackfillReport, backfill
from controltower.ingest.normalize import normalize
from controltower.ingest.processing import write_fact
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.tables import (
    BackfillCheckpoint,
    Job,
    Step,
    Workflow,
    WorkflowRun,
    table_of,
)
from controltower.store.writer import FactWriter
from tests.support.dump import dump_facts
from tests.support.github_history import FakeRepository, generate
from tests.support.github_server import FakeGitHub, serve, settings_for
from tests.support.services import postgres_schema

REPO = "octo-org/octo-repo"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)
UNTIL = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture
def history() -> FakeRepository:
    """25 runs, every fifth with a second attempt."""
    return generate(REPO, runs=25)


@pytest.fixture
def fake(history: FakeRepository) -> FakeGitHub:
    """The fake API over ``history``."""
    return FakeGitHub([history])


@pytest.fixture
def api(fake: FakeGitHub) -> Iterator[str]:
    """The fake's base URL while it serves."""
    with serve(fake) as url:
        yield url


def run_backfill(engine: Engine, api: str, **options: Any) -> BackfillReport:
    """Backfill REPO over the whole day of the history."""
    settings = settings_for(api, **options.pop("settings", {}))
    values: dict[str, Any] = {"repositories": [REPO], "since": SINCE, "until": UNTIL}
    values.update(options)
    return backfill(engine, settings, **values)


def count(engine: Engine, table: Any, *where: Any) -> int:
    """Rows of ``table`` matching ``where``."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_every_attempt_job_and_step_is_stored_as_api(
    engine: Engine, history: FakeRepository, api: str
) -> None:
    """25 runs with 5 re-runs are 30 attempts, 3 jobs each, 3 steps per job, source api."""
    report = run_backfill(engine, api)
    assert (report.runs, report.attempts, report.jobs) == (25, 30, 90)
    assert (
        count(engine, WorkflowRun) == count(engine, WorkflowRun, WorkflowRun.source == "api") == 30
    )
    assert count(engine, Job) == 90
    assert count(engine, Step) == 270
    assert count(engine, WorkflowRun, WorkflowRun.attempt == 2) == 5
    with engine.connect() as conn:
        workflows = conn.execute(select(Workflow.name, Workflow.path, Workflow.github_id)).all()
    assert sorted(workflows) == sorted((w["name"], w["path"], w["id"]) for w in history.workflows)


@pytest.mark.postgres
def test_postgresql_statistics_are_refreshed_after_a_backfill(
    history: FakeRepository, api: str
) -> None:
    """On PostgreSQL the fact tables are analysed once the backfill has stored runs."""
    with postgres_schema() as url:
        engine = make_engine(url)
        schema.upgrade(engine)
        try:
            _backfill_analyses(engine, api)
        finally:
            engine.dispose()


def _backfill_analyses(engine: Engine, api: str) -> None:
    analysed = text(
        "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
        "WHERE schemaname = current_schema() AND relname = 'workflow_runs'"
    )
    with engine.connect() as conn:
        assert conn.execute(analysed).scalar_one() is False
    run_backfill(engine, api)
    with engine.connect() as conn:
        assert conn.execute(analysed).scalar_one() is True


def test_requests_per_run_are_few(engine: Engine, fake: FakeGitHub, api: str) -> None:
    """One listing page, one jobs page per attempt, one request per earlier attempt."""
    report = run_backfill(engine, api)
    assert report.requests == len(fake.api_requests())
    assert len(fake.api_requests("/attempts/1/jobs")) == 25
    assert len(fake.api_requests("/attempts/2/jobs")) == 5
    assert len([r for r in fake.api_requests("/attempts/1") if not r.path.endswith("jobs")]) == 5
    assert len(fake.api_requests("/actions/runs")) == 25 + 5 + 5 + 1  # + listing page
    assert all("per_page=100" in r.query for r in fake.api_requests("/jobs"))


def test_listing_cap_is_passed_by_splitting_the_created_range(engine: Engine) -> None:
    """With a cap of 10 results per listing, 35 runs are still all fetched, by halving ranges."""
    fake = FakeGitHub([generate(REPO, runs=35, rerun_every=0)], listing_cap=10)
    with serve(fake) as url:
        report = run_backfill(engine, url, settings={"per_page": 4, "listing_cap": 10})
    assert report.runs == count(engine, WorkflowRun) == 35
    assert report.splits >= 3
    listings = [
        r.query for r in fake.api_requests(f"/repos/{REPO}/actions/runs") if "created" in r.query
    ]
    assert any("page=2" in q for q in listings)  # Link pagination inside a window


def webhook(engine: Engine, event: str, payload: dict[str, Any]) -> None:
    """Normalize and store one webhook payload, as the worker does."""
    with engine.begin() as conn:
        writer = FactWriter(conn)
        for fact in normalize(event, payload).facts:
            write_fact(writer, fact)


def without_source(dump: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """A dump with the runs' ``source`` column left out."""
    runs = [tuple(item for item in row if item[0] != "source") for row in dump["runs"]]
    return {**dump, "runs": sorted(runs)}


def test_backfill_and_webhooks_converge(
    sqlite_engine: Engine, tmp_path: Path, history: FakeRepository, api: str
) -> None:
    """Runs and jobs first seen by webhook end as a backfill alone stores them; source stays."""
    run = history.runs[3]
    workflow = next(w for w in history.workflows if w["id"] == run.latest["workflow_id"])
    repository = {"full_name": REPO}
    payload = {"workflow_run": run.latest, "workflow": workflow, "repository": repository}
    webhook(sqlite_engine, "workflow_run", {"action": "completed", **payload})
    for job in run.jobs[-1]:
        webhook(
            sqlite_engine,
            "workflow_job",
            {"action": "completed", "workflow_job": job, "repository": repository},
        )
    run_backfill(sqlite_engine, api)
    alone = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    schema.upgrade(alone)
    run_backfill(alone, api)
    assert without_source(dump_facts(sqlite_engine)) == without_source(dump_facts(alone))
    alone.dispose()
    with sqlite_engine.connect() as conn:
        sources = dict(
            conn.execute(
                select(WorkflowRun.run_id, WorkflowRun.source).where(WorkflowRun.attempt == 1)
            ).all()
        )
    assert sources.pop(str(run.run_id)) == "webhook"  # the same snapshot came first by webhook
    assert set(sources.values()) == {"api"}


def test_rate_limits_and_server_errors_during_a_backfill(
    engine: Engine, fake: FakeGitHub, api: str
) -> None:
    """A 429 with retry-after, a 403 secondary limit and two 502s are all waited out."""
    fake.inject(429, retry_after=1, path="/jobs")
    fake.inject(403, message="You have exceeded a secondary rate limit", path="/attempts/2")
    fake.inject(502, times=2, path="/workflows")
    report = run_backfill(engine, api)
    assert report.retries == 4
    assert count(engine, WorkflowRun) == 30
    assert count(engine, Job) == 90


def test_interrupted_backfill_resumes_after_the_last_complete_window(
    engine: Engine, api: str, fake: FakeGitHub
) -> None:
    """Killed midway, the next backfill starts after the checkpoint and fetches the rest."""

    class Interrupt(Exception):
        """Stands in for the process dying."""

    class Dying:
        def __init__(self) -> None:
            self.stored = 0

        def expect(self, runs: int) -> None:
            pass

        def advance(self, runs: int) -> None:
            self.stored += runs
            if self.stored >= 15:
                raise Interrupt

    with pytest.raises(Interrupt):
        run_backfill(engine, api, progress=Dying(), settings={"per_page": 5, "listing_cap": 5})
    with engine.connect() as conn:
        checkpoint = conn.execute(select(table_of(BackfillCheckpoint))).one()
    assert checkpoint.finished_at is None
    assert checkpoint.done_until is not None
    before = len(fake.api_requests())
    report = run_backfill(engine, api, settings={"per_page": 5, "listing_cap": 5})
    assert report.resumed == [REPO]
    assert count(engine, WorkflowRun) == 30
    assert report.runs <= 25 - 15 + 5  # the rest, and at most the window in flight again
    first = next(r for r in fake.api_requests()[before:] if "created" in r.query)
    resumed_from = unquote(first.query).split("created=")[1].split("..")[0]
    assert resumed_from == (checkpoint.done_until + timedelta(seconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_a_finished_backfill_run_again_fetches_only_what_is_new(engine: Engine) -> None:
    """Repeating a completed backfill continues from its end: old runs are not listed again."""
    history = generate(REPO, runs=10)
    fake = FakeGitHub([history])
    with serve(fake) as url:
        first_until = SINCE + timedelta(minutes=40)
        first = run_backfill(engine, url, until=first_until)
        second = run_backfill(engine, url)
    assert first.runs + second.runs == 10
    assert second.resumed == [REPO]
    assert count(engine, WorkflowRun) == 12


def test_organization_backfill_covers_every_repository(engine: Engine) -> None:
    """--org lists the organization's repositories (paginated) and backfills each."""
    a, b = generate("octo-org/a", runs=3), generate("octo-org/b", runs=4, first_run_id=40_000_000)
    fake = FakeGitHub([a, b], orgs={"octo-org": ["octo-org/a", "octo-org/b"]})
    with serve(fake) as url:
        report = backfill(
            engine, settings_for(url, per_page=1), org="octo-org", since=SINCE, until=UNTIL
        )
    assert report.repositories == ["octo-org/a", "octo-org/b"]
    assert report.runs == 7
