"""Acknowledging an alert: someone is on it, so it does not page again while it lasts.

An acknowledged alert that grows worse is updated but not notified again; its
resolve is still notified (``telemetry.suppression``). Once it resolves, the
same condition coming back is a new alert, unacknowledged. Acknowledging
again replaces who and why; unacknowledging clears both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from controltower.errors import AlertNotFound, AlertNotOpen, InvalidAcknowledgement
from controltower.store.tables import Alert, table_of
from controltower.telemetry.alert_records import AlertRecord, get_alert

alerts_t = table_of(Alert)
MAX_BY = 128


def acknowledge(
    conn: Connection, alert_id: int, by: str, note: str | None, now: datetime
) -> AlertRecord:
    """Acknowledge firing alert ``alert_id`` as ``by``; ``AlertNotOpen`` if it has resolved."""
    who = by.strip()
    if not who or len(who) > MAX_BY:
        raise InvalidAcknowledgement(f"by: say who acknowledges, in 1 to {MAX_BY} characters")
    _open_alert(conn, alert_id)
    conn.execute(
        update(alerts_t)
        .where(alerts_t.c.id == alert_id)
        .values(acknowledged_at=now, acknowledged_by=who, ack_note=(note or "").strip() or None)
    )
    return get_alert(conn, alert_id, now)


def unacknowledge(conn: Connection, alert_id: int, now: datetime) -> AlertRecord:
    """Take back the acknowledgement of alert ``alert_id`` (nothing happens if it had none)."""
    get_alert(conn, alert_id, now)
    conn.execute(
        update(alerts_t)
        .where(alerts_t.c.id == alert_id)
        .values(acknowledged_at=None, acknowledged_by=None, ack_note=None)
    )
    return get_alert(conn, alert_id, now)


def _open_alert(conn: Connection, alert_id: int) -> None:
    row = conn.execute(
        select(alerts_t.c.resolved_at).where(alerts_t.c.id == alert_id)
    ).one_or_none()
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    if row.resolved_at is not None:
        raise AlertNotOpen(f"alert {alert_id} has resolved: there is nothing to acknowledge")
