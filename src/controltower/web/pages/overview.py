"""The overview page, and the kept views of the overview and cost figures.

The overview's and the cost page's window figures are kept views (for
``telemetry.view_ttl_s``); ``warm`` computes their default filters in the
background when the server starts, so the first visitor does not wait.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from controltower.bootstrap import Container
from controltower.config import Settings
from controltower.intelligence.accuracy import LiveAccuracy, accuracy_end, live_accuracy
from controltower.intelligence.capability import prediction_mode
from controltower.store import anomalies as anomaly_store
from controltower.store import queries
from controltower.telemetry import (
    activity,
    anomaly_words,
    completeness,
    deployments,
    feed,
    notification_log,
    service,
)
from controltower.telemetry.alert_records import firing_count
from controltower.telemetry.dora import DeploymentEvent
from controltower.telemetry.metrics import Window
from controltower.telemetry.scope import Filters
from controltower.telemetry.views import View
from controltower.web.api.predictions import model_accuracy_problems
from controltower.web.deps import ConnectionDep, ContainerDep, kept, on_connection
from controltower.web.pages.filters import FiltersDep, PageFilters, duration, page_scope, render
from controltower.web.pages.trends import marked_trends

router = APIRouter(tags=["pages"], include_in_schema=False)


@dataclass(frozen=True, slots=True)
class OverviewFigures:
    """What the overview computes over its window (kept as a view)."""

    window: Window
    figures: service.Overview
    cost: service.CostReport
    deployments: list[DeploymentEvent]


def overview_view(container: Container, filters: PageFilters) -> View[OverviewFigures]:
    """The overview's window figures, kept for ``telemetry.view_ttl_s``."""
    return kept(container, *_overview_figures(container, filters))


def _overview_figures(
    container: Container, filters: PageFilters
) -> tuple[Hashable, Callable[[Connection], OverviewFigures]]:
    settings = container.settings.telemetry

    def compute(conn: Connection) -> OverviewFigures:
        window, scope = page_scope(conn, filters)
        return OverviewFigures(
            window,
            service.overview(conn, window, scope, "repository"),
            service.cost(conn, window, scope, service.rate_table(settings.rates)),
            deployments.deployment_events(conn, window, scope, settings.dora),
        )

    return ("overview", *filters.key()), compute


def cost_view(
    container: Container, filters: PageFilters
) -> View[tuple[Window, service.CostReport]]:
    """The cost page's window figures, kept for ``telemetry.view_ttl_s``."""
    return kept(container, *_cost_figures(container, filters))


def _cost_figures(
    container: Container, filters: PageFilters
) -> tuple[Hashable, Callable[[Connection], tuple[Window, service.CostReport]]]:
    rates = service.rate_table(container.settings.telemetry.rates)

    def compute(conn: Connection) -> tuple[Window, service.CostReport]:
        window, scope = page_scope(conn, filters)
        return window, service.cost(conn, window, scope, rates)

    return ("cost", *filters.key()), compute


def warm(container: Container) -> None:
    """Compute the default views in the background, so the first visitor does not wait."""
    defaults = PageFilters()
    for key, compute in (
        _overview_figures(container, defaults),
        _cost_figures(container, defaults),
    ):
        container.views.warm(key, on_connection(container, compute))


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request, conn: ConnectionDep, container: ContainerDep, filters: FiltersDep
) -> HTMLResponse:
    """Health, trends, cost, deployments and repositories at a glance."""
    view = overview_view(container, filters)
    window, figures, events = view.value.window, view.value.figures, view.value.deployments
    scope = Filters(None, None, filters.branch, filters.event)
    success, duration_chart = marked_trends(conn, container, figures.days, window)
    last = queries.last_delivery_at(conn)
    settings = container.settings

    def current_problems(conn: Connection) -> tuple[list[activity.Problem], int]:
        # Problems are about now, whatever period the page shows: the last 30 days.
        return activity.problems(
            conn,
            service.default_window(conn, PageFilters().days),
            scope,
            settings.telemetry,
            completeness_threshold=settings.reconcile.completeness_threshold,
            anomalies=settings.anomaly.enabled,
            extra=model_accuracy_problems(conn),
        )

    problems, problem_count = kept(
        container, ("problems", filters.branch, filters.event), current_problems
    ).value
    data = completeness.data_completeness(conn, settings.reconcile.completeness_threshold)
    return render(
        request,
        "overview.html",
        "overview",
        "Overview",
        filters,
        window,
        as_of=view.computed_at,
        groups=figures.groups,
        total=figures.total,
        success_chart=success,
        duration_chart=duration_chart,
        cost=view.value.cost,
        dora=deployments.dora_from(events, window),
        recent_deployments=sorted(events, key=lambda e: e.finished_at, reverse=True)[:10],
        problems=problems,
        problem_count=problem_count,
        firing_alerts=firing_count(conn),
        completeness=data,
        anomalies=(
            [(a, *anomaly_words.anomaly_words(a)) for a in anomaly_store.active_anomalies(conn, 10)]
            if settings.anomaly.enabled
            else None
        ),
        anomaly_count=anomaly_store.count_active_anomalies(conn) if settings.anomaly.enabled else 0,
        token_required=settings.server.api_token is not None,
        prediction_mode=_prediction_mode_shown(conn, settings),
        alert_latency=notification_log.summary(conn) if settings.alerts.enabled else None,
        accuracy=live_accuracy_view(container),
        accuracy_days=settings.intelligence.accuracy_days,
        feed=feed.feed(conn, scope, limit=25),
        deliveries=queries.delivery_states(conn, only=("pending",)),
        last_delivery=_ago(last),
        runs=queries.recent_runs(
            conn,
            limit=20,
            branch=filters.branch,
            event=filters.event,
            within=(window.start, window.end),
        ),
    )


def _prediction_mode_shown(conn: Connection, settings: Settings) -> str:
    """The prediction mode now as the overview names it ("disabled" by ml_enabled)."""
    current = prediction_mode(conn, settings)
    return "disabled" if current.source in ("ml_enabled", "enabled") else current.mode


def live_accuracy_view(container: Container) -> LiveAccuracy | None:
    """Live accuracy of each predictor (kept as a view), while predictions are made at all."""
    settings = container.settings
    if not prediction_mode(container.engine, settings).predicts:
        return None
    days = settings.intelligence.accuracy_days
    return kept(
        container,
        ("accuracy", days),
        lambda conn: live_accuracy(conn, days, accuracy_end(conn)),
    ).value


def _ago(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return duration((datetime.now(UTC) - moment).total_seconds()) + " ago"
