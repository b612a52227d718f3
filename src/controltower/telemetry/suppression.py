"""Which notifications of an evaluation are sent, and which are held back and why.

Three things hold a notification back, and each is a value with its reason,
not an exception: an active silence that covers the alert (firing and
resolve alike: a silenced alert notifies nobody), an acknowledgement (an
acknowledged alert that grows worse is not notified again; its resolve still
is), and a firing never notified (nobody saw the alert fire, so nobody is
told it resolved). The alert itself is recorded either way. The severity of
each firing sent is added to its alert's ``notified``, where its resolve
will be routed; sending the resolve clears it.

As in Alertmanager, what a silence held is not lost: at the first evaluation
no silence covers an alert, whether the silence ended early or ran out, a
resolve it held is sent if the alert's firing had been notified (so the
incident that firing opened is closed) and the condition has not come back,
and an alert still firing, not acknowledged, at a severity its firing was
never notified at, is notified.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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
        decision.send.append(replace(notification, alert_id=row.id))
        _mark_sent(conn, row, notification)
    for held in decision.suppressed:
        log.info(
            "notification suppressed",
            alert_id=held.alert_id,
            key=held.notification.key,
            state=held.notification.event,
            reason=held.reason,
        )
    for row in _released(conn, silences, {n.key for n in notifications}, now):
        released = resolved_of(row) if row.resolved_at is not None else firing_of(row)
        decision.send.append(released)
        _mark_sent(conn, row, released)
        log.info("notification released", alert_id=row.id, key=row.key, state=released.event)
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
    """Alerts no silence covers now with a notification a silence held (none proposed now):
    resolved ones whose firing was notified but not their resolve, in order, then firing
    ones, not acknowledged, whose severity was never notified."""
    firing = alerts_t.c.resolved_at.is_(None)
    query = select(alerts_t).where(
        (firing & alerts_t.c.acknowledged_at.is_(None))
        | (~firing & alerts_t.c.notified.is_not(None))
    )
    rows = conn.execute(query.order_by(alerts_t.c.id)).all()
    back = {row.key for row in rows if row.resolved_at is None}
    held = [
        row
        for row in rows
        if row.key not in proposed
        and covering(silences, target_of(row), now) is None
        and (row.resolved_at is not None or RANK[row.severity] > _notified_rank(row))
    ]
    for row in held:
        if row.resolved_at is not None and row.key in back:  # firing again: no resolve to tell
            conn.execute(update(alerts_t).where(alerts_t.c.id == row.id).values(notified=None))
    resolves = [row for row in held if row.resolved_at is not None and row.key not in back]
    return resolves + [row for row in held if row.resolved_at is None]


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
        alert_id=row.id,
        group=row.shared_cause,
    )


def _notified_rank(row: Row[Any]) -> int:
    """The worst severity the alert's firing was notified at, as a rank (-1: never)."""
    return max((RANK[s] for s in notified_severities(row.notified)), default=-1)


def resolved_of(row: Row[Any]) -> Notification:
    """The resolve notification of stored alert ``row``, routed wherever its firing went."""
    routes = notified_severities(row.notified) or (row.severity,)
    return Notification(
        row.key,
        "resolved",
        max(routes, key=RANK.__getitem__),
        row.title,
        f"It had been firing since {row.started_at:%Y-%m-%d %H:%M} UTC.",
        row.started_at,
        routes=routes,
        repository=row.repository,
        alert_id=row.id,
        group=row.shared_cause,
    )


def notified_severities(stored: str | None) -> tuple[str, ...]:
    """The severities an alert's firing was notified at, from its ``notified`` column."""
    return tuple(s for s in (stored or "").split(",") if s in RANK)


def _mark_sent(conn: Connection, row: Row[Any], notification: Notification) -> None:
    """Record a notification sent: a firing's severity joins the alert's ``notified``; a
    resolve clears it (nothing is owed any more)."""
    if notification.event == "resolved":
        if row.notified is not None:
            conn.execute(update(alerts_t).where(alerts_t.c.id == row.id).values(notified=None))
        return
    notified = notified_severities(row.notified)
    if notification.severity not in notified:
        value = ",".join((*notified, notification.severity))
        conn.execute(update(alerts_t).where(alerts_t.c.id == row.id).values(notified=value))


def _alert_of(conn: Connection, notification: Notification) -> Row[Any] | None:
    """The stored alert a notification is about: the newest with its key."""
    query = (
        select(alerts_t).where(alerts_t.c.key == notification.key).order_by(alerts_t.c.id.desc())
    )
    return conn.execute(query.limit(1)).first()
