"""The ``/anomalies`` page: every recorded anomaly, to review and give a verdict on.

The overview lists the anomalies going on; this page pages through all that
were recorded (``anomaly record --history`` records those of the past too),
newest first, filtered by state and verdict, each with its likely trigger and
a link to where it began: its workflow's (or repository's) page over a period
that reaches back to it, whose trend charts mark it on its first day. Its buttons call the JSON API
(``web/api/anomalies.py``) from ``static/dashboard.js`` and reload, as the
alerts page does.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from controltower.store.anomalies import StoredAnomaly, recent_anomalies
from controltower.telemetry import drilldown, service
from controltower.telemetry.anomaly_words import anomaly_words
from controltower.telemetry.metrics import Window
from controltower.web.deps import ConnectionDep, ContainerDep, Offset
from controltower.web.pages.filters import PageFilters, templates

router = APIRouter(tags=["pages"], include_in_schema=False)
PAGE = 50
# Days shown before an anomaly began on the page it links to, so the normal it left is in view.
BEFORE_DAYS = 7
VerdictChoice = Literal["any", "none", "confirmed", "dismissed"]


@router.get("/anomalies", response_class=HTMLResponse)
def anomalies_page(
    request: Request,
    conn: ConnectionDep,
    container: ContainerDep,
    verdict: VerdictChoice = "any",
    active: bool = False,
    offset: Offset = 0,
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
            "where": where_it_began(conn, shown),
            "verdict": verdict,
            "active": active,
            "first": offset + 1,
            "older": link(offset=offset + PAGE) if len(found) > PAGE else None,
            "newer": link(offset=max(0, offset - PAGE)) if offset else None,
            "token_required": container.settings.server.api_token is not None,
        },
    )


def where_it_began(conn: Connection, anomalies: list[StoredAnomaly]) -> dict[int, str]:
    """Per anomaly, the page of its series whose trend charts mark it where it began: its
    workflow's (a job's anomaly too), else its repository's, over a period reaching from a
    week before it began (the normal it left) to the newest run."""
    end = service.default_window(conn, 1).end
    ids: dict[str, dict[str, int]] = {}
    links = {}
    for a in anomalies:
        repository, *rest = a.series.split(" · ")
        if repository not in ids:
            ids[repository] = drilldown.workflow_ids(conn, repository)
        days = math.ceil((end - a.started_at) / timedelta(days=1)) + BEFORE_DAYS
        query = urlencode({"days": min(max(days, 1), 3650)})
        workflow = ids[repository].get(rest[0]) if rest else None
        path = f"/repositories/{repository}"
        links[a.id] = f"{path}/workflows/{workflow}?{query}" if workflow else f"{path}?{query}"
    return links
