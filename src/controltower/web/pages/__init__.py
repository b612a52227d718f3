"""The dashboard: server-rendered pages, charts drawn by plotly.js served from the plotly package.

One module per area, each with its own router, gathered here into the one
``router`` that ``create_app`` includes: ``filters`` (the query-string
filters, number formats and rendering every page shares), ``static``
(plotly.js and dashboard.js), ``overview`` (the overview and the kept views
``warm`` computes at start), ``drilldown`` (repository, workflow, run and
job), ``reports`` (DORA and cost), ``alerts``, ``anomalies`` and ``models``
(the pages that change state: acknowledgements, silences, verdicts, which
model version is live), and ``capabilities`` (each capability's mode, read
only). Filters (days,
branch, event) live in the query string and every link on a page carries
them, so a view can be shared and drilling down keeps them.
"""

from __future__ import annotations

from fastapi import APIRouter

from controltower.web.pages import (
    alerts,
    anomalies,
    capabilities,
    drilldown,
    models,
    overview,
    reports,
    static,
)
from controltower.web.pages.overview import warm

__all__ = ["router", "warm"]

router = APIRouter()
for area in (static, overview, drilldown, reports, alerts, anomalies, models, capabilities):
    router.include_router(area.router)
