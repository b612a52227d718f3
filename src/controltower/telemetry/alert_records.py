"""Stored alerts as people read them: firing or resolved, acknowledged, silenced.

Whether an alert is silenced is not stored: it is decided when it is read,
against the silences in force then (``telemetry.silences``), so a silence
created or ended a moment ago shows at once. Firing alerts come first, worst
first, then resolved ones, most recently resolved first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, case, func, select

from controltower.errors import AlertNotFound
from controltower.store.tables import Alert, table_of
from controltower.telemetry.silences import StoredSilence, Target, active_silences, covering

alerts_t = table_of(Alert)
State = Literal["firing", "resolved", "all"]
# More rows than this are not marked in one listing filtered by silence.
SCAN_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert with its acknowledgement and, if a silence covers it now, that silence."""

    id: int
    key: str
    rule: str
    kind: str
    severity: str
    title: str
    detail: str
    repository: str | None
    state: Literal["firing", "resolved"]
    started_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str | None
    silenced: bool
    silenced_by: int | None
    silenced_until: datetime | None


def target_of(row: Any) -> Target:
    """What silences are matched against, for a stored alert row."""
    return Target(kind=row.kind, repository=row.repository, rule=row.rule, key=row.key)


def record_of(row: Any, silences: list[StoredSilence], now: datetime) -> AlertRecord:
    """The ``AlertRecord`` of a stored row, marked silenced if one of ``silences`` covers it."""
    silence = covering(silences, target_of(row), now) if row.resolved_at is None else None
    return AlertRecord(
        id=row.id,
        key=row.key,
        rule=row.rule,
        kind=row.kind,
        severity=row.severity,
        title=row.title,
        detail=row.detail,
        repository=row.repository,
        state="firing" if row.resolved_at is None else "resolved",
        started_at=row.started_at,
        last_seen_at=row.last_seen_at,
        resolved_at=row.resolved_at,
        acknowledged=row.acknowledged_at is not None,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        ack_note=row.ack_note,
        silenced=silence is not None,
        silenced_by=silence.id if silence else None,
        silenced_until=silence.ends_at if silence else None,
    )


def list_alerts(
    conn: Connection,
    now: datetime,
    *,
    state: State = "firing",
    severity: str | None = None,
    acknowledged: bool | None = None,
    silenced: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[AlertRecord]:
    """Alerts in ``state``, filtered as asked: firing first (worst first), then resolved."""
    query = _filtered(state, severity, acknowledged)
    silences = active_silences(conn, now)
    if silenced is None:
        rows = conn.execute(query.limit(limit).offset(offset))
        return [record_of(row, silences, now) for row in rows]
    records = [record_of(row, silences, now) for row in conn.execute(query.limit(SCAN_LIMIT))]
    return [r for r in records if r.silenced == silenced][offset : offset + limit]


def _filtered(state: State, severity: str | None, acknowledged: bool | None) -> Any:
    rank = case({"critical": 0, "warning": 1}, value=alerts_t.c.severity, else_=2)
    firing = case((alerts_t.c.resolved_at.is_(None), 0), else_=1)
    query = select(alerts_t).order_by(
        firing,
        case((alerts_t.c.resolved_at.is_(None), rank), else_=0),
        func.coalesce(alerts_t.c.resolved_at, alerts_t.c.started_at).desc(),
        alerts_t.c.id.desc(),
    )
    if state == "firing":
        query = query.where(alerts_t.c.resolved_at.is_(None))
    elif state == "resolved":
        query = query.where(alerts_t.c.resolved_at.is_not(None))
    if severity is not None:
        query = query.where(alerts_t.c.severity == severity)
    if acknowledged is not None:
        column = alerts_t.c.acknowledged_at
        query = query.where(column.is_not(None) if acknowledged else column.is_(None))
    return query


def get_alert(conn: Connection, alert_id: int, now: datetime) -> AlertRecord:
    """Alert ``alert_id``; ``AlertNotFound`` if there is none."""
    row = conn.execute(select(alerts_t).where(alerts_t.c.id == alert_id)).one_or_none()
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return record_of(row, active_silences(conn, now), now)


def firing_count(conn: Connection) -> int:
    """How many alerts are firing."""
    query = select(func.count()).select_from(alerts_t).where(alerts_t.c.resolved_at.is_(None))
    return int(conn.execute(query).scalar_one())
