"""The log of alert notifications: one row per notification and channel, and its latency.

Alert latency is the time from the fact behind a notification arriving to the
receiver accepting it: ``fact_at`` is the ``received_at`` of the newest
webhook delivery whose facts the evaluation saw when deliveries started it,
else (the scheduled evaluation, problems no delivery raises) the moment the
problem was detected. A grouped message records a row for each notification
it carried. Summaries (p50/p95 over a window) and the Prometheus histogram
read this table, so they count notifications sent by any process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Row, case, func, insert, select

from controltower.store.tables import AlertNotification, table_of
from controltower.telemetry.metrics import percentile

if TYPE_CHECKING:
    from controltower.integrations.notify import Outcome

log_t = table_of(AlertNotification)
BUCKETS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)


def rows_of(outcome: Outcome, now: datetime) -> list[dict[str, object]]:
    """The rows recording ``outcome``: one per notification of its message."""
    message = outcome.message
    rows: list[dict[str, object]] = []
    for n in message.notifications:
        fact_at = n.fact_at or now
        latency = None
        if outcome.sent_at is not None and n.fact_at is not None:
            latency = (outcome.sent_at - n.fact_at).total_seconds()
        rows.append(
            {
                "alert_key": n.key[:512],
                "event": n.event,
                "severity": n.severity,
                "channel": outcome.channel[:64],
                "grouped": len(message.notifications),
                "attempts": outcome.attempts,
                "fact_at": fact_at,
                "fact_source": n.fact_source,
                "sent_at": outcome.sent_at,
                "latency_s": latency,
                "error": outcome.error,
                "recorded_at": now,
            }
        )
    return rows


def record(engine: Engine, outcome: Outcome) -> None:
    """Store how sending one message ended."""
    with engine.begin() as conn:
        conn.execute(insert(log_t), rows_of(outcome, datetime.now(UTC)))


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Notifications recorded over a window: how many left, how many failed, and how fast."""

    since: datetime
    notifications: int
    sent: int
    failed: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_max_s: float | None


def summary(conn: Connection, hours: float = 24.0, now: datetime | None = None) -> LatencySummary:
    """Latency percentiles of the notifications recorded in the last ``hours``."""
    since = (now or datetime.now(UTC)) - timedelta(hours=hours)
    rows = conn.execute(
        select(log_t.c.sent_at, log_t.c.latency_s).where(log_t.c.recorded_at >= since)
    ).all()
    latencies = sorted(float(r.latency_s) for r in rows if r.latency_s is not None)
    sent = sum(r.sent_at is not None for r in rows)
    return LatencySummary(
        since,
        len(rows),
        sent,
        len(rows) - sent,
        percentile(latencies, 50, ordered=True),
        percentile(latencies, 95, ordered=True),
        latencies[-1] if latencies else None,
    )


def recent(conn: Connection, limit: int = 50) -> Sequence[Row[Any]]:
    """The latest recorded notifications, newest first."""
    return conn.execute(select(log_t).order_by(log_t.c.id.desc()).limit(limit)).all()


def histogram(conn: Connection) -> list[tuple[str, list[int], int, float]]:
    """Per channel: cumulative counts at ``BUCKETS``, the count and the sum of latencies sent."""
    latency = log_t.c.latency_s
    columns = [func.count().label("n"), func.coalesce(func.sum(latency), 0.0).label("total")]
    columns += [
        func.sum(case((latency <= b, 1), else_=0)).label(f"le{i}") for i, b in enumerate(BUCKETS)
    ]
    rows = conn.execute(
        select(log_t.c.channel, *columns)
        .where(latency.is_not(None))
        .group_by(log_t.c.channel)
        .order_by(log_t.c.channel)
    ).all()
    return [
        (
            str(r.channel),
            [int(getattr(r, f"le{i}") or 0) for i in range(len(BUCKETS))],
            int(r.n),
            float(r.total),
        )
        for r in rows
    ]
