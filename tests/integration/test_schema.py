"""Migrations: they build exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

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
