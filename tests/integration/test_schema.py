"""Migrations: they build exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text

from controltower.errors import MigrationRequired
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.tables import metadata


def test_migrations_match_the_declared_tables(engine: Engine) -> None:
    """After `db upgrade`, Alembic finds no difference between database and models."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert schema.current_revision(engine) == schema.head_revision(engine)


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    """Applying migrations to a current database is a no-op."""
    before = sorted(inspect(engine).get_table_names())
    schema.upgrade(engine)
    assert sorted(inspect(engine).get_table_names()) == before
    assert "workflow_runs" in before
    assert "deliveries" in before


def test_empty_database_is_reported_as_needing_migration(database_url: str) -> None:
    """ensure_current names the command to run when the schema is missing."""
    engine = make_engine(database_url)
    try:
        with pytest.raises(MigrationRequired, match="controltower db upgrade"):
            schema.ensure_current(engine)
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode(sqlite_engine: Engine) -> None:
    """The embedded default uses WAL with full synchronous commits and foreign keys."""
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def _repository_and_workflow(conn: Connection) -> None:
    """octo/app and its workflow CI, as rows of an older schema (ids 1)."""
    conn.execute(
        text(
            "INSERT INTO repositories (id, full_name, created_at) "
            "VALUES (1, 'octo/app', '2026-01-01 00:00:00')"
        )
    )
    conn.execute(text("INSERT INTO workflows (id, repository_id, name) VALUES (1, 1, 'CI')"))


def test_upgrading_fills_the_derived_figures_of_stored_runs_and_jobs(database_url: str) -> None:
    """Runs and jobs stored before revision 0005 get their day, queue, runner and minutes."""
    engine = make_engine(database_url)
    try:
        schema.upgrade(engine, "0001")
        with engine.begin() as conn:
            _repository_and_workflow(conn)
            conn.execute(
                text(
                    "INSERT INTO workflow_runs (id, repository_id, workflow_id, run_id, attempt,"
                    " status, conclusion, created_at, started_at, duration_s, runner_labels,"
                    " source, snapshot) VALUES (1, 1, 1, '7', 1, 'completed', 'success',"
                    " '2026-03-01 23:59:00', '2026-03-02 00:00:30', 121, :labels, 'import', 's')"
                ),
                {"labels": '["windows-latest"]'},
            )
            conn.execute(
                text(
                    "INSERT INTO jobs (id, run_pk, key, name, conclusion, started_at,"
                    " completed_at, snapshot) VALUES (1, 1, 'build#1', 'build', 'success',"
                    " '2026-03-02 00:00:30', '2026-03-02 00:02:00', 's')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO steps (job_pk, number, name, conclusion, started_at,"
                    " completed_at) VALUES (1, 1, 'make', 'success', '2026-03-02 00:00:40',"
                    " '2026-03-02 00:01:41')"
                )
            )
        schema.upgrade(engine)
        with engine.connect() as conn:
            run = conn.execute(
                text("SELECT created_day, queue_s, sku, est_minutes FROM workflow_runs")
            ).one()
            job = conn.execute(
                text("SELECT sku, bill_day, minutes_steps, minutes_span FROM jobs")
            ).one()
    finally:
        engine.dispose()
    assert (str(run.created_day), run.queue_s, run.sku, run.est_minutes) == (
        "2026-03-01",
        90.0,
        "windows",
        3,
    )
    assert (job.sku, str(job.bill_day), job.minutes_steps, job.minutes_span) == (
        "linux",
        "2026-03-02",
        2,
        2,
    )


def test_upgrading_clears_the_queue_time_of_re_runs(database_url: str) -> None:
    """Stored before revision 0019, a re-run's "queue" (days since the run's first request) is
    cleared; a first attempt's is kept."""
    engine = make_engine(database_url)
    try:
        schema.upgrade(engine, "0018")
        with engine.begin() as conn:
            _repository_and_workflow(conn)
            for pk, attempt, queue in ((1, 1, 12.0), (2, 2, 259200.0)):
                conn.execute(
                    text(
                        "INSERT INTO workflow_runs (id, repository_id, workflow_id, run_id,"
                        " attempt, status, conclusion, created_at, queue_s, source, snapshot)"
                        " VALUES (:pk, 1, 1, '7', :attempt, 'completed', 'success',"
                        " '2026-03-01 23:59:00', :queue, 'import', 's')"
                    ),
                    {"pk": pk, "attempt": attempt, "queue": queue},
                )
        schema.upgrade(engine)
        with engine.connect() as conn:
            queues = conn.execute(
                text("SELECT attempt, queue_s FROM workflow_runs ORDER BY attempt")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in queues] == [(1, 12.0), (2, None)]
