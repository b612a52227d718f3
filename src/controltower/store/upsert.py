"""Dialect-aware ``INSERT ... ON CONFLICT`` for SQLite and PostgreSQL.

Both dialects spell upserts the same way in SQLAlchemy but through different
``insert`` constructs; this module picks the right one for a connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(conn: Connection, table: Table) -> Any:
    """The dialect's ``insert(table)`` construct, which has ``on_conflict_do_*``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for dialect {conn.dialect.name}")
