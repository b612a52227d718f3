"""The dashboard: server-rendered pages, charts drawn by plotly.js served from the plotly package.

Filters (days, branch, event) live in the query string and every link on a
page carries them, so a view can be shared and drilling down keeps them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import plotly
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection, func, select

from controltower.store import queries
from controltower.store.tables import Delivery
from controltower.telemetry import deployments, service
from controltower.telemetry.metrics import GroupMetrics, Window
from controltower.telemetry.scope import Filters
from controltower.web.deps import ConnectionDep, ContainerDep

router = APIRouter(tags=["pages"], include_in_schema=False)
templates = Jinja2Templates(directory=str(files("controltower.web") / "templates"))
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
STATIC = Path(str(files("controltower.web") / "static"))


def pct(value: float | None) -> str:
    """A share as a percentage, or an en dash."""
    return "–" if value is None else f"{value * 100:.1f}%"


def delta(value: float | None) -> str:
    """A change of a share in percentage points, signed."""
    return "–" if value is None else f"{value * 100:+.1f} pp"


def mins(seconds: float | None) -> str:
    """Seconds as minutes with one decimal."""
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


templates.env.globals.update(pct=pct, delta=delta, mins=mins)


class PageFilters:
    """The query-string filters of every page."""

    def __init__(self, days: int = 30, branch: str | None = None, event: str | None = None):
        self.days = days
        self.branch = branch or None
        self.event = event or None

    def query(self) -> str:
        """The filters as a query string to append to links."""
        values = {"days": self.days, "branch": self.branch, "event": self.event}
        kept = {k: v for k, v in values.items() if v is not None}
        return "?" + urlencode(kept) if kept else ""


def _page_filters(
    days: int = Query(default=30, ge=1, le=3650),
    branch: str | None = None,
    event: str | None = None,
) -> PageFilters:
    return PageFilters(days, branch, event)


def _render(
    request: Request,
    name: str,
    page: str,
    title: str,
    filters: PageFilters,
    window: Window,
    **context: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {
            "page": page,
            "title": title,
            "filters": filters,
            "query": filters.query(),
            "window": window,
            **context,
        },
    )


def _trend_charts(days: list[GroupMetrics]) -> tuple[dict[str, Any], dict[str, Any]]:
    x = [d.group for d in days]
    success = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "success rate",
                "x": x,
                "y": [d.current.success_rate for d in days],
            }
        ],
        "layout": {"yaxis": {"tickformat": ".0%", "range": [0, 1.05]}},
    }
    duration = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "p50",
                "x": x,
                "y": [_m(d.current.duration_p50) for d in days],
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "p95",
                "x": x,
                "y": [_m(d.current.duration_p95) for d in days],
            },
        ],
        "layout": {"yaxis": {"title": {"text": "minutes"}}},
    }
    return success, duration


def _m(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def _scope(
    conn: Connection, filters: PageFilters, repository: str | None = None
) -> tuple[Window, Filters]:
    window = service.default_window(conn, filters.days)
    return window, Filters(repository, None, filters.branch, filters.event)


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package (no CDN: works offline)."""
    return FileResponse(
        PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/static/dashboard.js")
def dashboard_js() -> FileResponse:
    """The few lines that draw the charts."""
    return FileResponse(STATIC / "dashboard.js", media_type="text/javascript")


FiltersDep = Annotated[PageFilters, Depends(_page_filters)]


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request, conn: ConnectionDep, container: ContainerDep, filters: FiltersDep
) -> HTMLResponse:
    """Health, trends, cost, deployments and repositories at a glance."""
    window, scope = _scope(conn, filters)
    success, duration = _trend_charts(service.trend(conn, window, scope))
    rates = service.rate_table(container.settings.telemetry.rates)
    last = conn.execute(select(func.max(Delivery.received_at))).scalar_one_or_none()
    return _render(
        request,
        "overview.html",
        "overview",
        "Overview",
        filters,
        window,
        groups=service.metrics(conn, window, scope, "repository"),
        total=service.total(conn, window, scope),
        success_chart=success,
        duration_chart=duration,
        cost=service.cost(conn, window, scope, rates),
        dora=deployments.dora_report(conn, window, scope, container.settings.telemetry.dora),
        deliveries=queries.delivery_states(conn),
        last_delivery=_ago(last),
        runs=queries.recent_runs(conn, limit=20),
    )


@router.get("/repositories/{owner}/{name}", response_class=HTMLResponse)
def repository_page(
    request: Request, owner: str, name: str, conn: ConnectionDep, filters: FiltersDep
) -> HTMLResponse:
    """One repository: trends, its workflows, its slowest jobs, its recent runs."""
    full_name = f"{owner}/{name}"
    window, scope = _scope(conn, filters, full_name)
    success, duration = _trend_charts(service.trend(conn, window, scope))
    jobs = service.metrics(conn, window, scope, "job")
    jobs.sort(key=lambda g: -(g.current.duration_p50 or 0))
    return _render(
        request,
        "repository.html",
        "repository",
        full_name,
        filters,
        window,
        repository=full_name,
        success_chart=success,
        duration_chart=duration,
        workflows=service.metrics(conn, window, scope, "workflow"),
        jobs=jobs[:15],
        runs=queries.recent_runs(conn, limit=20, repository=full_name),
    )


@router.get("/dora", response_class=HTMLResponse)
def dora_page(
    request: Request, conn: ConnectionDep, container: ContainerDep, filters: FiltersDep
) -> HTMLResponse:
    """The four keys with their bands and coverage."""
    window, scope = _scope(conn, filters)
    report = deployments.dora_report(conn, window, scope, container.settings.telemetry.dora)
    keys = [
        (
            "Deployment frequency",
            report.deployment_frequency,
            "–"
            if report.deployment_frequency.value is None
            else f"{report.deployment_frequency.value:.2f}/day",
        ),
        ("Lead time for changes", report.lead_time, _duration(report.lead_time.value)),
        ("Change failure rate", report.change_failure_rate, pct(report.change_failure_rate.value)),
        ("Time to restore", report.time_to_restore, _duration(report.time_to_restore.value)),
    ]
    return _render(
        request, "dora.html", "dora", "DORA keys", filters, window, dora=report, keys=keys
    )


@router.get("/cost", response_class=HTMLResponse)
def cost_page(
    request: Request, conn: ConnectionDep, container: ContainerDep, filters: FiltersDep
) -> HTMLResponse:
    """Cost by day and by workflow."""
    window, scope = _scope(conn, filters)
    report = service.cost(
        conn, window, scope, service.rate_table(container.settings.telemetry.rates)
    )
    days = sorted(report.by_day.items())
    chart = {
        "data": [
            {
                "type": "bar",
                "name": "USD",
                "x": [d.isoformat() for d, _ in days],
                "y": [round(v, 4) for _, v in days],
            }
        ],
        "layout": {"yaxis": {"tickprefix": "$"}},
    }
    by_workflow = sorted(report.by_workflow.items(), key=lambda kv: -kv[1])
    return _render(
        request,
        "cost.html",
        "cost",
        "Cost",
        filters,
        window,
        cost=report,
        cost_chart=chart,
        by_workflow=by_workflow,
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _ago(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return _duration((datetime.now(UTC) - moment).total_seconds()) + " ago"
