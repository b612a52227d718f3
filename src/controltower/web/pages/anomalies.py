"""The ``/anomalies`` page: every recorded anomaly, to review and give a verdict on.

The overview lists the anomalies going on; this page pages through all that
were recorded (``anomaly record --history`` records those of the past too),
newest first, filtered by state and verdict. Its buttons call the JSON API
(``web/api/anomalies.py``) from ``static/dashboard.js`` and reload, as the
alerts page does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from controltower.store.anomalies import recent_anomalies
from controltower.telemetry.activity import anomaly_words
from controltower.telemetry.metrics import Window
from controltower.web.deps import ConnectionDep, ContainerDep
from controltower.web.pages.filters import PageFilters, templates

router = APIRouter(tags=["pages"], include_in_schema=False)
PAGE = 50
VerdictChoice = Literal["any", "none", "confirmed", "dismissed"]


@router.get("/anomalies", response_class=HTMLResponse)
def anomalies_page(
    request: Request,
    conn: ConnectionDep,
    container: ContainerDep,
    verdict: VerdictChoice = "any",
    active: bool = False,
    offset: int = Query(default=0, ge=0),
) -> HTMLResponse:
    """Recorded anomalies, newest first, ``PAGE`` at a time, with their verdicts and buttons."""
    found = recent_anomalies(
        conn,
        active_only=active,
        verdict=None if verdict == "any" else verdict,
        limit=PAGE + 1,
        offset=offset,
    )
    shown = found[:PAGE]

    def link(**change: object) -> str:
        values = {"verdict": verdict, "active": str(active).lower(), "offset": offset, **change}
        return "/anomalies?" + urlencode(values)

    now = datetime.now(UTC)
    return templates.TemplateResponse(
        request,
        "anomalies.html",
        {
            "page": "anomalies",
            "title": "Anomalies",
            "filters": PageFilters(),
            "query": "",
            "window": Window(now, now),
            "as_of": None,
            "anomalies": [(a, *anomaly_words(a)) for a in shown],
            "verdict": verdict,
            "active": active,
            "first": offset + 1,
            "older": link(offset=offset + PAGE) if len(found) > PAGE else None,
            "newer": link(offset=max(0, offset - PAGE)) if offset else None,
            "token_required": container.settings.server.api_token is not None,
        },
    )
