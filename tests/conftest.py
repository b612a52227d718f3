"""Fixtures shared by every layer of tests: settings, databases, containers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine

from controltower.config import Settings
from controltower.store import schema
from controltower.store.engine import make_engine
from tests.support.migrated import MigratedSchemas
from tests.support.services import DATABASES, database

SECRET = "It's a Secret to Everybody"

# Property tests draw new examples on every local run; in CI the same ones each time, so that
# a run passes or fails by the change it tests, not by the draw.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def migrated_schemas() -> Iterator[MigratedSchemas]:
    """PostgreSQL schemas migrated once for the session and emptied after each test."""
    schemas = MigratedSchemas()
    yield schemas
    schemas.close()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database on SQLite and on the real PostgreSQL: empty, or migrated for ``engine``.

    A test that asks for ``engine`` gets, on PostgreSQL, a schema migrated
    earlier and emptied since: migrating anew would take longer than the test.
    """
    if request.param == "postgresql" and "engine" in request.fixturenames:
        schemas: MigratedSchemas = request.getfixturevalue("migrated_schemas")
        with schemas.lend() as url:
            yield url
        return
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database at the newest schema revision."""
    engine = make_engine(database_url)
    schema.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh, migrated SQLite file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'controltower.db'}")
    schema.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for one test: its own data dir and database, an in-memory queue."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        queue_url="memory://",
        github={"webhook_secret": SECRET},
    )
