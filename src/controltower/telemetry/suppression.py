"""Which notifications of an evaluation are sent, and which are held back and why.

Two things hold a notification back, and each is a value with its reason,
not an exception: an active silence that covers the alert (firing and
resolve alike: a silenced alert notifies nobody), and an acknowledgement
(an acknowledged alert that grows worse is not notified again; its resolve
still is). The alert itself is recorded either way. The severity of each
firing sent is added to its alert's ``notified``, where its resolve will be
routed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Row, select, update

from controltower.integrations.notify import Notification
from controltower.store.tables import Alert, table_of
from controltower.telemetry.alert_records import target_of
from controltower.telemetry.silences import active_silences, covering

alerts_t = table_of(Alert)
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A notification not sent: the alert it is about, why, and the silence if one."""

    notification: Notification
    alert_id: int
    reason: str
    silence_id: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The notifications to send and those suppressed, in evaluation order."""

    send: list[Notification] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)


def decide(conn: Connection, notifications: list[Notification], now: datetime) -> Decision:
    """Split ``notifications`` into those to send and those a silence or acknowledgement holds."""
    decision = Decision()
    if not notifications:
        return decision
    silences = active_silences(conn, now)
    for notification in notifications:
        row = _alert_of(conn, notification)
        if row is None:
            decision.send.append(notification)
            continue
        silence = covering(silences, target_of(row), now)
        if silence is not None:
            reason = f"silenced by silence {silence.id} until {silence.ends_at.isoformat()}: "
            decision.suppressed.append(
                Suppressed(notification, row.id, reason + silence.reason, silence.id)
            )
        elif notification.event == "firing" and row.acknowledged_at is not None:
            reason = f"acknowledged by {row.acknowledged_by} at {row.acknowledged_at.isoformat()}"
            decision.suppressed.append(Suppressed(notification, row.id, reason))
        else:
            decision.send.append(notification)
            if notification.event == "firing":
                _mark_notified(conn, row, notification.severity)
    for held in decision.suppressed:
        log.info(
            "notification suppressed",
            alert_id=held.alert_id,
            key=held.notification.key,
            state=held.notification.event,
            reason=held.reason,
        )
    return decision


def _mark_notified(conn: Connection, row: Row[Any], severity: str) -> None:
    """Add ``severity`` to the severities the alert's firing was notified at."""
    notified = (row.notified or "").split(",") if row.notified else []
    if severity not in notified:
        value = ",".join([*notified, severity])
        conn.execute(update(alerts_t).where(alerts_t.c.id == row.id).values(notified=value))


def _alert_of(conn: Connection, notification: Notification) -> Row[Any] | None:
    """The stored alert a notification is about: the newest with its key."""
    query = (
        select(alerts_t).where(alerts_t.c.key == notification.key).order_by(alerts_t.c.id.desc())
    )
    return conn.execute(query.limit(1)).first()
