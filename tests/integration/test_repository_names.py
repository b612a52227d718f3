"""A repository is found by its name in any case, as GitHub finds it, on SQLite and PostgreSQL;
it is shown as stored."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from controltower.bootstrap import build
from controltower.cli.context import as_stored
from controltower.config import JobLogSettings, Settings
from controltower.ingest.history import parse_record
from controltower.ingest.joblogs import wanted
from controltower.ingest.reconcile import repositories_to_reconcile, stored_attempts
from controltower.ingest.transfer import export_runs
from controltower.store import queries, schema
from controltower.store.queries import RunSelection, stored_repository
from controltower.store.tables import Repository, table_of
from controltower.store.writer import FactWriter
from controltower.telemetry import drilldown, exports, service
from controltower.telemetry.metrics import Window
from controltower.telemetry.scope import Filters
from controltower.web import create_app

STORED = "Octo-Org/App_JS"
OTHER = "octo-org/other"
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
WINDOW = Window(T0 - timedelta(days=10), T0 + timedelta(days=10))


def _run(run_id: int, day: int, repository: str = STORED, **extra: Any) -> dict[str, Any]:
    created = T0 + timedelta(days=day)
    return {
        "repository": repository,
        "run_id": run_id,
        "workflow": "CI",
        "branch": "main",
        "event": "push",
        "conclusion": "failure",
        "created_at": created.isoformat(),
        "completed_at": (created + timedelta(minutes=10)).isoformat(),
        "jobs": [{"name": "test", "job_id": 100 + run_id, "conclusion": "failure"}],
        **extra,
    }


def _load(engine: Engine, records: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in records])


def test_a_repository_arriving_in_another_case_is_the_one_stored(engine: Engine) -> None:
    """Runs of ``octo-org/app_js`` join ``Octo-Org/App_JS``: one repository, named as first
    stored; a later writer (another transaction) finds it too."""
    _load(engine, [_run(1, 0), _run(2, 1, repository="octo-org/app_js")])
    _load(engine, [_run(3, 2, repository="OCTO-ORG/APP_JS"), _run(4, 2, repository=OTHER)])
    with engine.connect() as conn:
        names = conn.execute(select(table_of(Repository).c.full_name)).scalars().all()
        runs = queries.recent_runs(conn, repository="octo-org/APP_js")
    assert sorted(names) == [STORED, OTHER]
    assert [(r.run_id, r.repository) for r in runs] == [("3", STORED), ("2", STORED), ("1", STORED)]


def test_every_lookup_by_name_ignores_case_and_shows_the_stored_name(engine: Engine) -> None:
    """The drill-down, the telemetry filters, reconciliation and log fetching find the
    repository spelled any way; a name that only looks alike (``_`` is no wildcard) does not."""
    _load(engine, [_run(1, 0), _run(2, 1), _run(3, 1, repository=OTHER)])
    typed = "OCTO-ORG/app_js"
    with engine.connect() as conn:
        assert stored_repository(conn, typed) == STORED
        assert stored_repository(conn, "octo-org/appXjs") is None
        assert stored_repository(conn, "octo-org/app") is None
        ids = drilldown.workflow_ids(conn, typed)
        assert list(ids) == ["CI"]
        assert drilldown.find_workflow(conn, typed, ids["CI"]) is not None
        run = drilldown.run_detail(conn, typed, "1")
        assert run is not None
        assert (run.repository, run.workflow.repository) == (STORED, STORED)
        job = run.jobs[0]
        assert drilldown.run_of_job(conn, typed, job.id) == ("1", 1)
        groups = service.metrics(conn, WINDOW, Filters(typed), "repository")
        assert [(g.group, g.current.runs) for g in groups] == [(STORED, 2)]
    assert set(stored_attempts(engine, typed, ["1", "2", "3"])) == {("1", 1), ("2", 1)}
    logs = wanted(engine, JobLogSettings(), repositories=[typed])
    assert sorted((w.repository, w.job_id) for w in logs) == [(STORED, "101"), (STORED, "102")]


def test_a_run_selection_takes_one_repository_in_any_case_and_a_period(engine: Engine) -> None:
    """Runs (and their jobs) of the repository, created from ``since`` (included) until
    ``until`` (excluded); a date bound alone takes every repository."""
    _load(engine, [_run(1, 0), _run(2, 1), _run(3, 2), _run(4, 1, repository=OTHER)])
    day = timedelta(days=1)
    selection = RunSelection("octo-org/APP_JS", since=T0 + day, until=T0 + 2 * day)
    taken = export_runs(engine, selection=selection)
    assert [(r["repository"], r["run_id"]) for r in taken] == [(STORED, 2)]
    assert len(list(export_runs(engine))) == 4
    with engine.connect() as conn:
        rows = list(exports.job_rows(conn, RunSelection(until=T0 + 2 * day)))
    assert sorted((r["repository"], r["run_id"]) for r in rows) == [
        (STORED, "1"),
        (STORED, "2"),
        (OTHER, "4"),
    ]


def test_the_api_and_the_pages_take_a_repository_in_any_case(settings: Settings) -> None:
    """Query parameters and paths in another case find the repository; the answers name it as
    stored; an unknown one is still a 404 (pages) or nothing (lists)."""
    container = build(settings)
    schema.upgrade(container.engine)
    _load(container.engine, [_run(1, 0), _run(2, 1), _run(3, 1, repository=OTHER)])
    period = {"start": WINDOW.start.isoformat(), "end": WINDOW.end.isoformat()}
    try:
        with TestClient(create_app(container)) as client:
            runs = client.get("/api/v1/runs", params={"repository": "octo-org/APP_JS"}).json()
            nothing = client.get("/api/v1/runs", params={"repository": "octo-org/nope"}).json()
            metrics = client.get(
                "/api/v1/metrics", params={"repository": "OCTO-ORG/app_js", **period}
            ).json()
            run = client.get("/api/v1/repositories/octo-org/app_js/runs/1").json()
            page = client.get("/repositories/OCTO-ORG/APP_JS")
            run_page = client.get("/repositories/octo-org/app_js/runs/2")
            unknown = client.get("/repositories/octo-org/nope")
            spec = client.get("/openapi.json").json()
    finally:
        container.close()
    assert [(r["run_id"], r["repository"]) for r in runs] == [("2", STORED), ("1", STORED)]
    assert nothing == []
    assert [g["group"] for g in metrics["groups"]] == [STORED]
    assert run["run"]["repository"] == STORED
    assert page.status_code == 200
    assert f"<title>{STORED}" in page.text
    assert run_page.status_code == 200
    assert STORED in run_page.text
    assert unknown.status_code == 404
    said = [
        p for p in spec["paths"]["/api/v1/runs"]["get"]["parameters"] if p["name"] == "repository"
    ]
    assert "in any case" in said[0]["description"]


def test_commands_name_repositories_as_stored(engine: Engine) -> None:
    """``--repo`` of backfill, reconcile and fetch-logs, and the configured repositories, are
    taken as stored (checkpoints and runs then go to the one repository), each once; a
    repository not stored yet is taken as given."""
    _load(engine, [_run(1, 0)])
    given = ["octo-org/APP_JS", "Octo-Org/App_JS", "octo-org/new"]
    assert as_stored(engine, given) == [STORED, "octo-org/new"]
    assert as_stored(engine, None) == []
    configured = ["OCTO-ORG/app_js", "octo-org/new", "Octo-Org/App_JS"]
    settings = Settings(github={"repositories": configured})
    assert repositories_to_reconcile(engine, settings, T0 - timedelta(days=1)) == [
        STORED,
        "octo-org/new",
    ]


def test_two_writers_creating_a_repository_in_two_spellings_make_one_row(engine: Engine) -> None:
    """The second writer waits for the first to commit, then finds its row: one repository,
    spelled as the first stored it, whatever the interleaving of the two transactions."""
    first_wrote, second_done = threading.Event(), threading.Event()
    ids: dict[str, int] = {}

    def first() -> None:
        with engine.begin() as conn:
            ids["first"] = FactWriter(conn).repository_id("Octo-Org/Brand-New")
            first_wrote.set()
            second_done.wait(0.5)  # the second is blocked meanwhile: it cannot finish first

    def second() -> None:
        first_wrote.wait(10)
        with engine.begin() as conn:
            ids["second"] = FactWriter(conn).repository_id("octo-org/BRAND-NEW")
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    table = table_of(Repository)
    with engine.connect() as conn:
        names = (
            conn.execute(
                select(table.c.full_name).where(table.c.full_name.ilike("octo-org/brand-new"))
            )
            .scalars()
            .all()
        )
    assert names == ["Octo-Org/Brand-New"]
    assert ids["first"] == ids["second"]
