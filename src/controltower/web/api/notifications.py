"""``/api/v1/alerts/notifications``: alert notifications sent, and how fast they left."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel

from controltower.telemetry import notification_log, notification_outbox
from controltower.web.deps import ConnectionDep

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class NotificationPublic(BaseModel):
    """One notification of an alert to one channel (by its configured name, never the URL)."""

    alert_key: str
    event: str
    severity: str
    channel: str
    grouped: int
    attempts: int
    fact_at: datetime
    fact_source: str
    sent_at: datetime | None
    latency_s: float | None
    error: str | None


class NotificationsPublic(BaseModel):
    """Latency over the window (fact arriving to the receiver accepting) and the latest rows;
    ``pending``: messages still owed (waiting for their first attempt or a retry), whenever
    they were raised."""

    hours: float
    since: datetime
    notifications: int
    sent: int
    failed: int
    pending: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_max_s: float | None
    recent: list[NotificationPublic]


@router.get("/alerts/notifications")
def get_notifications(
    conn: ConnectionDep,
    hours: float = Query(default=24.0, gt=0, le=24 * 90, description="The window, in hours."),
    limit: int = Query(default=50, ge=0, le=1000, description="How many recent rows to list."),
) -> NotificationsPublic:
    """Notifications recorded in the window: counts, p50/p95 latency, and the latest ones;
    and how many are still owed."""
    summary = notification_log.summary(conn, hours)
    rows = notification_log.recent(conn, limit)
    return NotificationsPublic(
        hours=hours,
        since=summary.since,
        notifications=summary.notifications,
        sent=summary.sent,
        failed=summary.failed,
        pending=notification_outbox.pending(conn),
        latency_p50_s=summary.latency_p50_s,
        latency_p95_s=summary.latency_p95_s,
        latency_max_s=summary.latency_max_s,
        recent=[NotificationPublic.model_validate(row, from_attributes=True) for row in rows],
    )
