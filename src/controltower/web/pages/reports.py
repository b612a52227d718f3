"""The report pages: the four DORA keys with their bands, and cost by day and by workflow."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from controltower.store import anomalies as anomaly_store
from controltower.telemetry import deployments, drilldown
from controltower.telemetry.dora import DeploymentEvent
from controltower.telemetry.metrics import Window
from controltower.web import charts
from controltower.web.deps import ConnectionDep, ContainerDep, kept
from controltower.web.pages.filters import (
    FiltersDep,
    PageFilters,
    duration,
    page_scope,
    pct,
    render,
)
from controltower.web.pages.overview import cost_view

DEPLOYMENTS_SHOWN = 100
router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/dora", response_class=HTMLResponse)
def dora_page(
    request: Request, conn: ConnectionDep, container: ContainerDep, filters: FiltersDep
) -> HTMLResponse:
    """The four keys with their bands and coverage."""

    def compute(conn: Connection) -> tuple[Window, list[DeploymentEvent]]:
        window, scope = page_scope(conn, filters)
        return window, deployments.deployment_events(
            conn, window, scope, container.settings.telemetry.dora
        )

    view = kept(container, ("dora", *filters.key()), compute)
    window, events = view.value
    report = deployments.dora_from(events, window)
    keys = [
        (
            "Deployment frequency",
            report.deployment_frequency,
            "–"
            if report.deployment_frequency.value is None
            else f"{report.deployment_frequency.value:.2f}/day",
        ),
        ("Lead time for changes", report.lead_time, duration(report.lead_time.value)),
        ("Change failure rate", report.change_failure_rate, pct(report.change_failure_rate.value)),
        ("Time to restore", report.time_to_restore, duration(report.time_to_restore.value)),
    ]
    return render(
        request,
        "dora.html",
        "dora",
        "DORA keys",
        filters,
        window,
        as_of=view.computed_at,
        dora=report,
        keys=keys,
        deployments=sorted(events, key=lambda e: e.finished_at, reverse=True)[:DEPLOYMENTS_SHOWN],
        deployment_count=len(events),
    )


@router.get("/cost", response_class=HTMLResponse)
def cost_page(
    request: Request, conn: ConnectionDep, container: ContainerDep, filters: FiltersDep
) -> HTMLResponse:
    """Cost by day and by workflow."""
    view = cost_view(container, filters)
    window, report = view.value
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
        "layout": {
            "yaxis": {"tickprefix": "$"},
            "xaxis": {"type": "date", "range": charts.window_range(window)},
        },
    }
    if container.settings.anomaly.enabled:
        found = anomaly_store.anomalies_since(conn, window.start)
        chart = charts.with_anomalies(chart, found, "cost")
    ids = {
        repository: drilldown.workflow_ids(conn, repository) for repository in report.by_repository
    }
    by_workflow = [
        (name, usd, _workflow_link(ids, name, filters))
        for name, usd in sorted(report.by_workflow.items(), key=lambda kv: -kv[1])
    ]
    by_repository = sorted(report.by_repository.items(), key=lambda kv: -kv[1])
    return render(
        request,
        "cost.html",
        "cost",
        "Cost",
        filters,
        window,
        as_of=view.computed_at,
        cost=report,
        cost_chart=chart,
        by_workflow=by_workflow,
        by_repository=by_repository,
    )


def _workflow_link(ids: dict[str, dict[str, int]], name: str, filters: PageFilters) -> str | None:
    """The page of the workflow a cost row names ("owner/repo · workflow"), None if unknown;
    ``ids``: each repository's workflows by name."""
    repository, _, workflow = name.partition(" · ")
    workflow_id = ids.get(repository, {}).get(workflow)
    if workflow_id is None:
        return None
    return filters.link(f"/repositories/{repository}/workflows/{workflow_id}")
