"""The notification log: rows per notification of a message, and latency over a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert

from controltower.integrations.alert_messages import Message, Notification
from controltower.integrations.notify import Outcome
from controltower.store.tables import AlertNotification, table_of
from controltower.telemetry import notification_log

log_t = table_of(AlertNotification)
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _notification(key: str, fact_at: datetime | None) -> Notification:
    return Notification(key, "firing", "warning", key, "", NOW, fact_at, "delivery")


def test_a_grouped_message_logs_each_notification_with_its_own_latency() -> None:
    """Two notifications in one accepted message: two rows, latency from each one's fact."""
    message = Message(
        (
            _notification("a", NOW - timedelta(seconds=2)),
            _notification("b", NOW - timedelta(seconds=5)),
        ),
        "o/a",
    )
    rows = notification_log.rows_of(Outcome(message, "slack-webhook", 1, NOW), NOW)
    assert [(r["alert_key"], r["grouped"], r["latency_s"]) for r in rows] == [
        ("a", 2, 2.0),
        ("b", 2, 5.0),
    ]


def test_a_message_given_up_has_no_latency_and_keeps_the_error() -> None:
    """Not accepted: no sent_at, no latency, the reason kept."""
    message = Message((_notification("a", NOW),))
    (row,) = notification_log.rows_of(Outcome(message, "json", 6, None, "HTTP 503"), NOW)
    assert (row["sent_at"], row["latency_s"], row["error"], row["attempts"]) == (
        None,
        None,
        "HTTP 503",
        6,
    )


@pytest.mark.parametrize("hours", [1.0, 48.0])
def test_summary_gives_percentiles_of_the_latencies_sent_within_the_window(
    engine: Engine, hours: float
) -> None:
    """p50/p95 over sent rows of the window; failed rows are counted apart; old rows left out."""
    latencies = [1.0, 2.0, 3.0, 4.0, None]
    old = [100.0]
    rows = [_row(NOW - timedelta(minutes=10), latency) for latency in latencies] + [
        _row(NOW - timedelta(hours=30), latency) for latency in old
    ]
    with engine.begin() as conn:
        conn.execute(insert(log_t), rows)
    with engine.connect() as conn:
        summary = notification_log.summary(conn, hours, now=NOW)
        histogram = notification_log.histogram(conn)
    if hours == 1.0:
        assert (summary.notifications, summary.sent, summary.failed) == (5, 4, 1)
        assert (summary.latency_p50_s, summary.latency_max_s) == (2.5, 4.0)
        assert summary.latency_p95_s == pytest.approx(3.85)
    else:
        assert (summary.notifications, summary.sent, summary.latency_max_s) == (6, 5, 100.0)
    ((channel, cumulative, count, total),) = histogram
    assert (channel, count, total) == ("slack-webhook", 5, 110.0)
    assert cumulative[notification_log.BUCKETS.index(2.0)] == 2
    assert cumulative[-1] == 5


def _row(at: datetime, latency: float | None) -> dict[str, object]:
    return {
        "alert_key": "k",
        "event": "firing",
        "severity": "warning",
        "channel": "slack-webhook",
        "grouped": 1,
        "attempts": 1,
        "fact_at": at,
        "fact_source": "delivery",
        "sent_at": at if latency is not None else None,
        "latency_s": latency,
        "error": None if latency is not None else "HTTP 500",
        "recorded_at": at,
    }
