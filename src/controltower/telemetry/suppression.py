"""Which notifications of an evaluation are sent, and which are held back and why.

Three things hold a notification back, and each is a value with its reason,
not an exception: an active silence that covers the alert (firing and
resolve alike: a silenced alert notifies nobody), an acknowledgement (an
acknowledged alert that grows worse is not notified again; its resolve still
is), and a firing never notified (nobody saw the alert fire, so nobody is
told it resolved). The alert itself is recorded either way. The severity of
each firing sent is added to its alert's ``notified``, where its resolve
will be routed.

As in Alertmanager, what a silence held is not lost: an alert still firing,
not acknowledged, and at a severity its firing was never notified at is
notified at the first evaluation no silence covers it, whether the silence
ended early or ran out.
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
from controltower.telemetry.silences import StoredSilence, active_silences, covering

alerts_t = table_of(Alert)
RANK = {"info": 0, "warning": 1, "critical": 2}
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
    """Split ``notifications`` into those to send and those held back, and add the firings a
    silence held that can leave now."""
    decision = Decision()
    silences = active_silences(conn, now)
    for notification in notifications:
        row = _alert_of(conn, notification)
        if row is None:
            decision.send.append(notification)
            continue
        held = _hold(notification, row, covering(silences, target_of(row), now))
        if held is not None:
            decision.suppressed.append(held)
            continue
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
    for row in _released(conn, silences, {n.key for n in notifications}, now):
        decision.send.append(firing_of(row))
        _mark_notified(conn, row, row.severity)
        log.info("notification released", alert_id=row.id, key=row.key, severity=row.severity)
    return decision


def _hold(
    notification: Notification, row: Row[Any], silence: StoredSilence | None
) -> Suppressed | None:
    """Why ``notification`` about alert ``row`` is held back, or ``None`` to send it."""
    if silence is not None:
        reason = f"silenced by silence {silence.id} until {silence.ends_at.isoformat()}: "
        return Suppressed(notification, row.id, reason + silence.reason, silence.id)
    if notification.event == "firing" and row.acknowledged_at is not None:
        reason = f"acknowledged by {row.acknowledged_by} at {row.acknowledged_at.isoformat()}"
        return Suppressed(notification, row.id, reason)
    if notification.event == "resolved" and not row.notified:
        return Suppressed(notification, row.id, "its firing was never notified")
    return None


def _released(
    conn: Connection, silences: list[StoredSilence], proposed: set[str], now: datetime
) -> list[Row[Any]]:
    """Firing alerts no longer silenced whose severity was never notified (none proposed now)."""
    query = select(alerts_t).where(
        alerts_t.c.resolved_at.is_(None), alerts_t.c.acknowledged_at.is_(None)
    )
    return [
        row
        for row in conn.execute(query.order_by(alerts_t.c.id))
        if row.key not in proposed
        and RANK[row.severity] > _notified_rank(row)
        and covering(silences, target_of(row), now) is None
    ]


def firing_of(row: Row[Any]) -> Notification:
    """The firing notification of stored alert ``row``, as it stands."""
    return Notification(
        row.key,
        "firing",
        row.severity,
        row.title,
        row.detail,
        row.started_at,
        repository=row.repository,
    )


def _notified_rank(row: Row[Any]) -> int:
    """The worst severity the alert's firing was notified at, as a rank (-1: never)."""
    return max((RANK[s] for s in notified_severities(row.notified)), default=-1)


def notified_severities(stored: str | None) -> tuple[str, ...]:
    """The severities an alert's firing was notified at, from its ``notified`` column."""
    return tuple(s for s in (stored or "").split(",") if s in RANK)


def _mark_notified(conn: Connection, row: Row[Any], severity: str) -> None:
    """Add ``severity`` to the severities the alert's firing was notified at."""
    notified = notified_severities(row.notified)
    if severity not in notified:
        value = ",".join((*notified, severity))
        conn.execute(update(alerts_t).where(alerts_t.c.id == row.id).values(notified=value))


def _alert_of(conn: Connection, notification: Notification) -> Row[Any] | None:
    """The stored alert a notification is about: the newest with its key."""
    query = (
        select(alerts_t).where(alerts_t.c.key == notification.key).order_by(alerts_t.c.id.desc())
    )
    return conn.execute(query.limit(1)).first()
