"""The real PostgreSQL and Redis of this machine: reach them, or fail in CI and skip elsewhere."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get(
    "CONTROLTOWER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CONTROLTOWER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require(service: str, host: str, port: int) -> None:
    """Fail (in CI) or skip (elsewhere) when ``service`` does not answer at host:port."""
    if _reachable(host, port):
        return
    message = f"{service} is not reachable at {host}:{port}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must provide it")
    pytest.skip(message)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test; yields a URL whose search_path is that schema."""
    require("PostgreSQL", "127.0.0.1", 5432)
    name = f"ct_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """An empty database, a SQLite file in ``folder`` or a PostgreSQL schema; yields its URL."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'controltower.db'}"
    else:
        with postgres_schema() as url:
            yield url
