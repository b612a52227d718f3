"""PostgreSQL schemas kept at the newest revision and emptied between tests.

Migrating a fresh PostgreSQL schema and dropping it afterwards take the
server about half a second per test, longer than most tests themselves.
A test that wants a migrated database gets a schema migrated once for the
session instead, and afterwards every row it left is deleted and every
sequence restarted: the next test finds the schema as a fresh migration
leaves it (the migrations store no rows of their own), and what the process
cached by its URL is forgotten. A schema that is no longer at the newest
revision, or cannot be emptied, is dropped instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from controltower.intelligence import capability, serving
from controltower.store import schema
from controltower.store.engine import make_engine
from tests.support.services import POSTGRES_URL, require


def _url(name: str) -> str:
    return f"{POSTGRES_URL}?options=-csearch_path%3D{name}"


class MigratedSchemas:
    """A session's migrated PostgreSQL schemas: lent to one test at a time, emptied on return."""

    def __init__(self) -> None:
        self._admin: Engine | None = None
        self._free: list[str] = []

    @property
    def admin(self) -> Engine:
        """The connection to the ``test`` database the schemas live in."""
        if self._admin is None:
            self._admin = create_engine(POSTGRES_URL)
        return self._admin

    @contextmanager
    def lend(self) -> Iterator[str]:
        """A schema at the newest revision holding no rows; yields its URL."""
        require("PostgreSQL", "127.0.0.1", 5432)
        name = self._free.pop() if self._free else self._create()
        try:
            yield _url(name)
        finally:
            _forget_cached()
            if self._emptied(name):
                self._free.append(name)
            else:
                self._drop(name)

    def close(self) -> None:
        """Drop every schema still kept."""
        while self._free:
            self._drop(self._free.pop())
        if self._admin is not None:
            self._admin.dispose()

    def _create(self) -> str:
        name = f"ct_{uuid.uuid4().hex[:12]}"
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        engine = make_engine(_url(name))
        try:
            schema.upgrade(engine)
        finally:
            engine.dispose()
        return name

    def _drop(self, name: str) -> None:
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))

    def _emptied(self, name: str) -> bool:
        """Delete every row and restart every sequence; whether the schema is fit to lend again."""
        engine = make_engine(_url(name))
        try:
            if schema.current_revision(engine) != schema.head_revision(engine):
                return False
        finally:
            engine.dispose()
        try:
            with self.admin.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                # Every table is emptied, so no foreign key is left dangling: skip their checks.
                conn.execute(text("SET LOCAL session_replication_role = replica"))
                for table in _names(conn, "tablename", "pg_tables", name):
                    if table != "alembic_version":
                        conn.execute(text(f'DELETE FROM "{name}"."{table}"'))
                for sequence in _names(conn, "sequencename", "pg_sequences", name):
                    conn.execute(text(f'ALTER SEQUENCE "{name}"."{sequence}" RESTART'))
        except DBAPIError:
            return False  # still locked by a connection the test left open
        return True


def _forget_cached() -> None:
    """Forget what this process cached by a database's URL: the schema is lent again under the
    same URL, emptied, and a test that switched prediction to canary would otherwise leave the
    next one reading canary for a few seconds from the cached capability switches."""
    capability.forget()
    serving.FEATURE_STATE.clear()


def _names(conn: Connection, column: str, catalog: str, name: str) -> list[str]:
    query = text(f"SELECT {column} FROM {catalog} WHERE schemaname = :name")
    return list(conn.execute(query, {"name": name}).scalars())
