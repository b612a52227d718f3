"""The dashboard: server-rendered pages, charts drawn by plotly.js served from the plotly package.

Filters (days, branch, event) live in the query string and every link on a
page carries them, so a view can be shared and drilling down keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

import plotly
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection

from controltower.bootstrap import Container
from controltower.config import Settings
from controltower.ingest import joblogs
from controltower.intelligence.accuracy import LiveAccuracy, live_accuracy
from controltower.intelligence.capability import prediction_mode
from controltower.intelligence.job_serving import job_comparisons
from controltower.intelligence.serving import shown_prediction
from controltower.store import anomalies as anomaly_store
from controltower.store import queries
from controltower.telemetry import (
    activity,
    completeness,
    deployments,
    drilldown,
    notification_log,
    service,
)
from controltower.telemetry.alert_records import firing_count
from controltower.telemetry.dora import DeploymentEvent, Dora
from controltower.telemetry.metrics import GroupMetrics, Window
from controltower.telemetry.scope import Filters
from controltower.telemetry.views import View
from controltower.web import charts
from controltower.web.api.predictions import model_accuracy_problems
from controltower.web.deps import ConnectionDep, ContainerDep, kept, on_connection

T = TypeVar("T")
router = APIRouter(tags=["pages"], include_in_schema=False)
templates = Jinja2Templates(directory=str(files("controltower.web") / "templates"))
OUTCOME_COLOURS = {"success": "#1a7f37", "failure": "#cf222e", "cancelled": "#8c959f"}
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


class PageFilters:
    """The query-string filters of every page."""

    def __init__(self, days: int = 30, branch: str | None = None, event: str | None = None):
        self.days = days
        self.branch = branch or None
        self.event = event or None

    def query(self, **extra: object) -> str:
        """The filters (and ``extra`` parameters) as a query string to append to links."""
        values = {"days": self.days, "branch": self.branch, "event": self.event, **extra}
        kept = {k: v for k, v in values.items() if v is not None}
        return "?" + urlencode(kept) if kept else ""

    def key(self) -> tuple[int, str | None, str | None]:
        """The filters as part of a view's key."""
        return (self.days, self.branch, self.event)

    def link(self, path: str, **extra: object) -> str:
        """``path`` with the filters, so following the link keeps them."""
        return path + self.query(**extra)


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
            "as_of": None,
            **context,
        },
    )


def _by_outcome(points: list[drilldown.JobPoint]) -> dict[str, list[drilldown.JobPoint]]:
    groups: dict[str, list[drilldown.JobPoint]] = {}
    for point in points:
        groups.setdefault(point.conclusion or "unfinished", []).append(point)
    return groups


def _marked_trends(
    conn: Connection,
    container: Container,
    days: list[GroupMetrics],
    window: Window,
    scope: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trend charts, with the anomalies of ``scope`` marked while detection is on."""
    success, duration = charts.trend_charts(days)
    if not container.settings.anomaly.enabled:
        return success, duration
    found = anomaly_store.anomalies_since(conn, window.start, scope)
    return (
        charts.with_anomalies(success, found, "success"),
        charts.with_anomalies(duration, found, "duration"),
    )


@dataclass(frozen=True, slots=True)
class WorkflowFigures:
    """What the workflow page computes over its window (kept as a view)."""

    window: Window
    figures: service.Overview
    jobs: list[GroupMetrics]
    durations: list[float]
    steps: list[drilldown.StepStats]


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
        window, scope = _scope(conn, filters)
        return OverviewFigures(
            window,
            service.overview(conn, window, scope, "repository"),
            service.cost(conn, window, scope, service.rate_table(settings.rates)),
            deployments.deployment_events(conn, window, scope, settings.dora),
        )

    return ("overview", *filters.key()), compute


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request, conn: ConnectionDep, container: ContainerDep, filters: FiltersDep
) -> HTMLResponse:
    """Health, trends, cost, deployments and repositories at a glance."""
    view = overview_view(container, filters)
    window, figures, events = view.value.window, view.value.figures, view.value.deployments
    scope = Filters(None, None, filters.branch, filters.event)
    success, duration = _marked_trends(conn, container, figures.days, window)
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
    return _render(
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
        duration_chart=duration,
        cost=view.value.cost,
        dora=deployments.dora_from(events, window),
        recent_deployments=sorted(events, key=lambda e: e.finished_at, reverse=True)[:10],
        problems=problems,
        problem_count=problem_count,
        firing_alerts=firing_count(conn),
        completeness=data,
        anomalies=(
            [(a, *activity.anomaly_words(a)) for a in anomaly_store.active_anomalies(conn, 10)]
            if settings.anomaly.enabled
            else None
        ),
        prediction_mode=_prediction_mode_shown(conn, settings),
        alert_latency=notification_log.summary(conn) if settings.alerts.enabled else None,
        accuracy=_live_accuracy(container),
        accuracy_days=settings.intelligence.accuracy_days,
        feed=activity.feed(conn, scope, limit=25),
        deliveries=queries.delivery_states(conn),
        last_delivery=_ago(last),
        runs=queries.recent_runs(conn, limit=20, branch=filters.branch, event=filters.event),
    )


@router.get("/repositories/{owner}/{name}", response_class=HTMLResponse)
def repository_page(
    request: Request,
    owner: str,
    name: str,
    conn: ConnectionDep,
    container: ContainerDep,
    filters: FiltersDep,
) -> HTMLResponse:
    """One repository: trends, its workflows, its slowest jobs, its recent runs."""
    full_name = f"{owner}/{name}"
    ids = drilldown.workflow_ids(conn, full_name)
    if not ids:
        raise HTTPException(404, f"no repository {full_name}")

    def compute(conn: Connection) -> tuple[Window, service.Overview, list[GroupMetrics]]:
        window, scope = _scope(conn, filters, full_name)
        jobs = service.metrics(conn, window, scope, "job")
        jobs.sort(key=lambda g: -(g.current.duration_p50 or 0))
        return window, service.overview(conn, window, scope, "workflow"), jobs[:15]

    view = kept(container, ("repository", full_name, *filters.key()), compute)
    window, figures, jobs = view.value
    success, duration = _marked_trends(conn, container, figures.days, window, full_name)
    workflows = [(ids.get(g.group.split(" · ", 1)[1]), g) for g in figures.groups]
    return _render(
        request,
        "repository.html",
        "repository",
        full_name,
        filters,
        window,
        as_of=view.computed_at,
        repository=full_name,
        success_chart=success,
        duration_chart=duration,
        workflows=workflows,
        jobs=jobs,
        runs=queries.recent_runs(
            conn, limit=20, repository=full_name, branch=filters.branch, event=filters.event
        ),
    )


@router.get("/repositories/{owner}/{name}/workflows/{workflow_id}", response_class=HTMLResponse)
def workflow_page(
    request: Request,
    owner: str,
    name: str,
    workflow_id: int,
    conn: ConnectionDep,
    container: ContainerDep,
    filters: FiltersDep,
) -> HTMLResponse:
    """One workflow: its figures, trends, duration distribution, slowest jobs and steps, runs."""
    full_name = f"{owner}/{name}"
    workflow = drilldown.find_workflow(conn, full_name, workflow_id)
    if workflow is None:
        raise HTTPException(404, f"no workflow {workflow_id} in {full_name}")
    scope = Filters(full_name, workflow.name, filters.branch, filters.event)

    def compute(conn: Connection) -> WorkflowFigures:
        window = service.default_window(conn, filters.days)
        jobs = service.metrics(conn, window, scope, "job")
        jobs.sort(key=lambda g: -(g.current.duration_p50 or 0))
        return WorkflowFigures(
            window,
            service.overview(conn, window, scope, "workflow"),
            jobs[:15],
            drilldown.successful_durations(conn, window, scope),
            drilldown.slowest_steps(conn, window, scope),
        )

    view = kept(container, ("workflow", workflow.id, *filters.key()), compute)
    window, figures = view.value.window, view.value.figures
    success, duration = _marked_trends(
        conn, container, figures.days, window, f"{full_name} · {workflow.name}"
    )
    groups = figures.groups
    return _render(
        request,
        "workflow.html",
        "workflow",
        workflow.name,
        filters,
        window,
        as_of=view.computed_at,
        repository=full_name,
        workflow=workflow,
        summary=groups[0] if groups else None,
        success_chart=success,
        duration_chart=duration,
        distribution_chart=charts.histogram(view.value.durations),
        jobs=view.value.jobs,
        steps=view.value.steps,
        step_sample=drilldown.STEP_SAMPLE,
        runs=queries.recent_runs(
            conn,
            limit=20,
            repository=full_name,
            workflow_id=workflow.id,
            branch=filters.branch,
            event=filters.event,
        ),
    )


@router.get("/repositories/{owner}/{name}/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request,
    owner: str,
    name: str,
    run_id: str,
    conn: ConnectionDep,
    container: ContainerDep,
    filters: FiltersDep,
    attempt: int | None = Query(default=None, ge=1),
) -> HTMLResponse:
    """One run: its trigger, its shown prediction, its jobs on a timeline, its critical path."""
    full_name = f"{owner}/{name}"
    run = drilldown.run_detail(conn, full_name, run_id, attempt)
    if run is None:
        raise HTTPException(404, f"no run {run_id} in {full_name}")
    prediction = None
    if prediction_mode(conn, container.settings).shows:
        prediction = shown_prediction(conn, run.id, run.status, run.conclusion, run.duration_s)
    job_predictions = job_comparisons(conn, run.id) if prediction is not None else []
    window = service.default_window(conn, filters.days)
    title = f"{run.workflow.name} #{run.run_number or run.run_id}"
    return _render(
        request,
        "run.html",
        "run",
        title,
        filters,
        window,
        repository=full_name,
        run=run,
        prediction=prediction,
        job_predictions=job_predictions,
        timeline_chart=charts.timeline(
            [
                (job.name, job.started_at, job.completed_at, job.critical, job.conclusion)
                for job in run.jobs
            ]
        ),
    )


@router.get("/repositories/{owner}/{name}/runs/{run_id}/jobs/{job_pk}", response_class=HTMLResponse)
def job_page(
    request: Request,
    owner: str,
    name: str,
    run_id: str,
    job_pk: int,
    conn: ConnectionDep,
    filters: FiltersDep,
) -> HTMLResponse:
    """One job: its steps on a timeline, and the same job's history in its workflow."""
    full_name = f"{owner}/{name}"
    found = drilldown.run_of_job(conn, full_name, job_pk)
    if found is None or found[0] != run_id:
        raise HTTPException(404, f"no job {job_pk} in run {run_id} of {full_name}")
    run = drilldown.run_detail(conn, full_name, run_id, found[1])
    job = drilldown.job_in_run(run, job_pk) if run is not None else None
    if run is None or job is None:
        raise HTTPException(404, f"no job {job_pk} in run {run_id} of {full_name}")
    window = service.default_window(conn, filters.days)
    scope = Filters(full_name, run.workflow.name, filters.branch, filters.event)
    history = drilldown.job_history(conn, window, scope, job.name)
    trend = {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "name": outcome,
                "marker": {"color": OUTCOME_COLOURS.get(outcome, "#57606a")},
                "x": [p.created_at.isoformat() for p in points if p.created_at],
                "y": [charts.minutes(p.seconds) for p in points if p.created_at],
            }
            for outcome, points in _by_outcome(history.points).items()
        ],
        "layout": {"yaxis": {"title": {"text": "minutes"}}},
    }
    return _render(
        request,
        "job.html",
        "job",
        job.name,
        filters,
        window,
        repository=full_name,
        run=run,
        job=job,
        history=history,
        timeline_chart=charts.timeline(
            [
                (f"{s.number}. {s.name}", s.started_at, s.completed_at, False, s.conclusion)
                for s in job.steps
            ]
        ),
        history_chart=trend,
        distribution_chart=charts.histogram(
            [
                p.seconds
                for p in history.points
                if p.seconds is not None and p.conclusion == "success"
            ]
        ),
        steps=drilldown.slowest_steps(conn, window, scope, job=job.name),
        step_sample=drilldown.STEP_SAMPLE,
        log=joblogs.job_log(conn, job.id),
    )


@router.get("/dora", response_class=HTMLResponse)
def dora_page(
    request: Request, conn: ConnectionDep, container: ContainerDep, filters: FiltersDep
) -> HTMLResponse:
    """The four keys with their bands and coverage."""

    def compute(conn: Connection) -> tuple[Window, Dora]:
        window, scope = _scope(conn, filters)
        return window, deployments.dora_report(
            conn, window, scope, container.settings.telemetry.dora
        )

    view = kept(container, ("dora", *filters.key()), compute)
    window, report = view.value
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
        request,
        "dora.html",
        "dora",
        "DORA keys",
        filters,
        window,
        as_of=view.computed_at,
        dora=report,
        keys=keys,
    )


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
        window, scope = _scope(conn, filters)
        return window, service.cost(conn, window, scope, rates)

    return ("cost", *filters.key()), compute


def _prediction_mode_shown(conn: Connection, settings: Settings) -> str:
    """The prediction mode now as the overview names it ("disabled" by ml_enabled)."""
    current = prediction_mode(conn, settings)
    return "disabled" if current.source == "ml_enabled" else current.mode


def _live_accuracy(container: Container) -> LiveAccuracy | None:
    """Live accuracy of each predictor (kept as a view), while predictions are made at all."""
    settings = container.settings
    if not prediction_mode(container.engine, settings).predicts:
        return None
    days = settings.intelligence.accuracy_days
    return kept(container, ("accuracy", days), lambda conn: live_accuracy(conn, days)).value


def warm(container: Container) -> None:
    """Compute the default views in the background, so the first visitor does not wait."""
    defaults = PageFilters()
    for key, compute in (
        _overview_figures(container, defaults),
        _cost_figures(container, defaults),
    ):
        container.views.warm(key, on_connection(container, compute))


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
        "layout": {"yaxis": {"tickprefix": "$"}},
    }
    if container.settings.anomaly.enabled:
        found = anomaly_store.anomalies_since(conn, window.start)
        chart = charts.with_anomalies(chart, found, "cost")
    by_workflow = sorted(report.by_workflow.items(), key=lambda kv: -kv[1])
    return _render(
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


templates.env.globals.update(pct=pct, delta=delta, mins=mins, secs=_duration)
