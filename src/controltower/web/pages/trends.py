"""The success-rate and duration trend charts, with anomalies marked while detection is on.

The overview, repository and workflow pages draw the same two trends over
their own scope.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from controltower.bootstrap import Container
from controltower.store import anomalies as anomaly_store
from controltower.telemetry.metrics import GroupMetrics, Window
from controltower.web import charts


def marked_trends(
    conn: Connection,
    container: Container,
    days: list[GroupMetrics],
    window: Window,
    scope: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trend charts, with the anomalies of ``scope`` marked while detection is on."""
    success, duration = charts.trend_charts(days, window)
    if not container.settings.anomaly.enabled:
        return success, duration
    found = anomaly_store.anomalies_since(conn, window.start, scope)
    return (
        charts.with_anomalies(success, found, "success"),
        charts.with_anomalies(duration, found, "duration"),
    )
