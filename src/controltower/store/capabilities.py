"""The stored mode switches of capabilities: appended, never changed, the newest one current."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from controltower.store.tables import CapabilityChange, table_of

changes_t = table_of(CapabilityChange)


@dataclass(frozen=True, slots=True)
class Switch:
    """One switch of a capability to a mode: by whom, when and why."""

    name: str
    mode: str
    changed_at: datetime
    changed_by: str
    reason: str | None


def _switch(row: Any) -> Switch:
    return Switch(row[0], row[1], row[2], row[3], row[4])


_COLUMNS = (
    changes_t.c.name,
    changes_t.c.mode,
    changes_t.c.changed_at,
    changes_t.c.changed_by,
    changes_t.c.reason,
)


def current_switches(conn: Connection) -> dict[str, Switch]:
    """The newest switch of every capability ever switched, by name."""
    newest = select(func.max(changes_t.c.id)).group_by(changes_t.c.name).scalar_subquery()
    rows = conn.execute(select(*_COLUMNS).where(changes_t.c.id.in_(newest)))
    return {s.name: s for s in map(_switch, rows)}


def switch_history(conn: Connection, name: str, limit: int = 50) -> list[Switch]:
    """The switches of ``name``, newest first."""
    query = (
        select(*_COLUMNS)
        .where(changes_t.c.name == name)
        .order_by(changes_t.c.id.desc())
        .limit(limit)
    )
    return [_switch(row) for row in conn.execute(query)]


def record_switch(conn: Connection, switch: Switch) -> None:
    """Append ``switch``: it becomes the capability's mode."""
    conn.execute(
        changes_t.insert().values(
            name=switch.name,
            mode=switch.mode,
            changed_at=switch.changed_at,
            changed_by=switch.changed_by,
            reason=switch.reason,
        )
    )
