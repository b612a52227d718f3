"""Engines: SQLite in WAL mode by default, PostgreSQL by URL.

SQLite gets WAL (readers never block the writer), writers that take the
write lock when they begin, ``synchronous=FULL`` (a
commit is on disk before it returns, so an acknowledged delivery survives a
power cut, not only a killed process), a busy timeout long enough for the
web process and a worker process to share the file, and foreign keys on.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from controltower.errors import ConfigurationError, DatabaseMissing

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, manage transactions, so BEGIN is explicit.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


class _WriterGate:
    """Serializes this process's SQLite write transactions on a Python lock.

    SQLite allows one writer at a time. Writers in one process (the webhook
    journal and the in-process worker) that collide inside SQLite wait in its
    busy handler, which sleeps in steps of up to 100 ms; waiting on a Python
    lock instead hands the file over the moment the other commits.
    Writers take SQLite's write lock up front (``BEGIN IMMEDIATE``): a deferred
    transaction that reads and then writes fails at once with "database is
    locked" when another writer got in between, whatever the busy timeout.
    Readers opt out with ``reading`` and begin deferred, without the gate.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def begin(self, conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode != "IMMEDIATE":
            conn.exec_driver_sql(f"BEGIN {mode}")
            return
        self._lock.acquire()
        conn.info["ct_gate"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.end(conn)
            raise

    def end(self, conn: Connection) -> None:
        if conn.info.pop("ct_gate", False):
            self._lock.release()


def reading(conn: Connection) -> Connection:
    """Mark a connection read-only for SQLite's locking: its transactions begin DEFERRED."""
    return conn.execution_options(sqlite_begin="DEFERRED")


def make_engine(url: str, *, echo: bool = False, create: bool = True) -> Engine:
    """Create the engine for ``url``; raise ``ConfigurationError`` for a URL that cannot work.

    Without ``create`` (commands that only read) a SQLite file that does not
    exist raises ``DatabaseMissing`` instead of being created with its
    directory, so a mistyped path is said, not left behind as an empty database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"database URL {url!r} is not a SQLAlchemy URL") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            if not create and not Path(database).exists():
                raise DatabaseMissing(
                    f"no database at {database}: run `controltower db upgrade` to create one"
                    " (or check CONTROLTOWER_DATABASE_URL, or CONTROLTOWER_DATA_DIR without it)"
                )
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, connect_args={"check_same_thread": False})
        gate = _WriterGate()
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", gate.begin)
        event.listen(engine, "commit", gate.end)
        event.listen(engine, "rollback", gate.end)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10)
    raise ConfigurationError(
        f"database URL {url!r}: only sqlite:/// and postgresql:// are supported"
    )


def refresh_statistics(engine: Engine) -> None:
    """Have PostgreSQL's planner look at the fact tables after a bulk write (import, backfill).

    Where autovacuum is off or has not run yet, the planner plans a bulk-loaded
    table from empty-table statistics and picks plans ten times slower. SQLite
    needs nothing here.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "ANALYZE repositories, workflows, workflow_runs, jobs, steps"
        )
