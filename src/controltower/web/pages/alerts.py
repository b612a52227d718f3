"""The ``/alerts`` page: firing alerts with their marks and actions, silences, recent resolves.

The page is read fresh on every request (small indexed reads); its buttons
call the JSON API (``web/api/alerts.py``) from ``static/dashboard.js`` and
reload the page, so what it shows is always what the store holds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controltower.config import AlertSettings
from controltower.telemetry.alert_records import list_alerts
from controltower.telemetry.metrics import Window
from controltower.telemetry.silences import list_silences
from controltower.web.deps import ConnectionDep, ContainerDep
from controltower.web.pages.filters import PageFilters, templates

router = APIRouter(tags=["pages"], include_in_schema=False)
RESOLVED_DAYS = 7


def _channels(config: AlertSettings) -> dict[str, list[str]]:
    """Per severity, the channels its alerts go to that have a URL (none: the dashboard only)."""
    return {
        severity: [name for name in config.routes.get(severity, []) if config.channels.get(name)]
        for severity in ("critical", "warning", "info")
    }


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, conn: ConnectionDep, container: ContainerDep) -> HTMLResponse:
    """Firing alerts first, then silences in force, then alerts resolved lately."""
    now = datetime.now(UTC)
    since = now - timedelta(days=RESOLVED_DAYS)
    resolved = [
        a
        for a in list_alerts(conn, now, state="resolved", limit=100)
        if a.resolved_at is not None and a.resolved_at >= since
    ]
    firing = list_alerts(conn, now, state="firing", limit=500)
    return templates.TemplateResponse(
        request,
        "alerts.html",
        {
            "page": "alerts",
            "title": "Alerts",
            "filters": PageFilters(),
            "query": "",
            "window": Window(since, now),
            "as_of": None,
            "firing": firing,
            "token_required": container.settings.server.api_token is not None,
            "silences": list_silences(conn, now, active_only=True, limit=500),
            "resolved": resolved,
            "resolved_days": RESOLVED_DAYS,
            "channels": _channels(container.settings.alerts),
            "titles": {a.key: a.title for a in [*resolved, *firing]},  # a silenced key in words
        },
    )
