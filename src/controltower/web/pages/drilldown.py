"""The drill-down pages: a repository, one of its workflows, a run, and a job in that run.

Each page links down to the next and back up through breadcrumbs, keeping
the filters; an unknown repository, workflow, run or job is a 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from controltower.domain import JOB_TIME_LIMIT, is_failed
from controltower.domain.limits import INT32_MAX
from controltower.ingest import joblogs
from controltower.intelligence.job_serving import job_comparisons
from controltower.intelligence.serving import shown_prediction, shows_now
from controltower.store import queries
from controltower.telemetry import drilldown, service
from controltower.telemetry.metrics import GroupMetrics, Window
from controltower.telemetry.scope import Filters
from controltower.web import charts
from controltower.web.deps import ConnectionDep, ContainerDep, RowId, kept
from controltower.web.pages.filters import FiltersDep, page_scope, render
from controltower.web.pages.trends import marked_trends

router = APIRouter(tags=["pages"], include_in_schema=False)
OUTCOME_COLOURS = {"success": "#1a7f37", "failure": "#cf222e", "cancelled": "#8c959f"}


Bar = tuple[str, datetime | None, datetime | None, str, str | None]


def job_bars(jobs: Sequence[drilldown.JobRow], now: datetime) -> list[Bar]:
    """The jobs' bars on the run's timeline: one still running reaches ``now``.

    A job started longer ago than ``JOB_TIME_LIMIT`` without an end is not running: its end
    never arrived. Drawn to ``now``, a job of a run stored months ago stretched the axis over
    the months and flattened the others; it ends where the run's known jobs end ("end not
    known").
    """
    ends = [j.completed_at for j in jobs if j.completed_at is not None]
    bars: list[Bar] = []
    for job in jobs:
        if job.started_at is None or job.completed_at is not None:
            group = "critical path" if job.critical else "other"
            bar = (job.name, job.started_at, job.completed_at, group, job.conclusion or job.status)
        elif now - job.started_at <= JOB_TIME_LIMIT:
            bar = (job.name, job.started_at, now, "running", job.status or "in progress")
        else:
            end = max([*ends, job.started_at + timedelta(minutes=1)])
            bar = (job.name, job.started_at, end, "end not known", "no end arrived")
        bars.append(bar)
    return bars


def slowest_jobs(jobs: list[GroupMetrics], limit: int = 15) -> list[GroupMetrics]:
    """The jobs that ran, slowest first by median successful duration, at most ``limit``.

    A job that ran either passed (it has a duration) or failed; one that was only ever
    skipped, or cancelled without passing or failing, has no execution time to rank and
    would fill the list with rows of dashes (a deployment job skipped on every branch but
    one, say), so it is left out.
    """
    ran = [g for g in jobs if g.current.duration_p50 is not None or g.current.failure_rate]
    ran.sort(key=lambda g: -(g.current.duration_p50 or 0))
    return ran[:limit]


def _step_group(step: drilldown.StepRow) -> str:
    """A step's group on the job's timeline: failed, passed, or other (skipped, cancelled)."""
    if is_failed(step.conclusion):
        return "failed"
    return "passed" if step.conclusion == "success" else "other"


@dataclass(frozen=True, slots=True)
class WorkflowFigures:
    """What the workflow page computes over its window (kept as a view)."""

    window: Window
    figures: service.Overview
    jobs: list[GroupMetrics]
    durations: list[float]
    steps: list[drilldown.StepStats]


def _repository(conn: Connection, owner: str, name: str) -> str:
    """The repository the path names, as stored: the path may spell it in another case
    (GitHub's names ignore case). As spelt when none is stored, for the 404 to name it."""
    typed = f"{owner}/{name}"
    return queries.stored_repository(conn, typed) or typed


def _by_outcome(points: list[drilldown.JobPoint]) -> dict[str, list[drilldown.JobPoint]]:
    groups: dict[str, list[drilldown.JobPoint]] = {}
    for point in points:
        groups.setdefault(point.conclusion or "unfinished", []).append(point)
    return groups


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
    full_name = _repository(conn, owner, name)
    ids = drilldown.workflow_ids(conn, full_name)
    if not ids:
        raise HTTPException(404, f"no repository {full_name}")

    def compute(conn: Connection) -> tuple[Window, service.Overview, list[GroupMetrics]]:
        window, scope = page_scope(conn, filters, full_name)
        jobs = slowest_jobs(service.metrics(conn, window, scope, "job"))
        return window, service.overview(conn, window, scope, "workflow"), jobs

    view = kept(container, ("repository", full_name, *filters.key()), compute)
    window, figures, jobs = view.value
    success, duration = marked_trends(conn, container, figures.days, window, full_name)
    workflows = [(ids.get(g.group.split(" · ", 1)[1]), g) for g in figures.groups]
    return render(
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
            conn,
            limit=20,
            repository=full_name,
            branch=filters.branch,
            event=filters.event,
            within=(window.start, window.end),
        ),
    )


@router.get("/repositories/{owner}/{name}/workflows/{workflow_id}", response_class=HTMLResponse)
def workflow_page(
    request: Request,
    owner: str,
    name: str,
    workflow_id: RowId,
    conn: ConnectionDep,
    container: ContainerDep,
    filters: FiltersDep,
) -> HTMLResponse:
    """One workflow: its figures, trends, duration distribution, slowest jobs and steps, runs."""
    full_name = _repository(conn, owner, name)
    workflow = drilldown.find_workflow(conn, full_name, workflow_id)
    if workflow is None:
        raise HTTPException(404, f"no workflow {workflow_id} in {full_name}")
    scope = Filters(full_name, workflow.name, filters.branch, filters.event)

    def compute(conn: Connection) -> WorkflowFigures:
        window = service.default_window(conn, filters.days)
        return WorkflowFigures(
            window,
            service.overview(conn, window, scope, "workflow"),
            slowest_jobs(service.metrics(conn, window, scope, "job")),
            drilldown.successful_durations(conn, window, scope),
            drilldown.slowest_steps(conn, window, scope),
        )

    view = kept(container, ("workflow", workflow.id, *filters.key()), compute)
    window, figures = view.value.window, view.value.figures
    success, duration = marked_trends(
        conn, container, figures.days, window, f"{full_name} · {workflow.name}"
    )
    groups = figures.groups
    return render(
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
            within=(window.start, window.end),
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
    attempt: int | None = Query(default=None, ge=1, le=INT32_MAX),
) -> HTMLResponse:
    """One run: its trigger, its shown prediction, its jobs on a timeline, its critical path."""
    full_name = _repository(conn, owner, name)
    run = drilldown.run_detail(conn, full_name, run_id, attempt)
    if run is None:
        raise HTTPException(404, f"no run {run_id} in {full_name}")
    prediction = None
    if shows_now(conn, container.settings, full_name, run.run_id):
        prediction = shown_prediction(conn, run.id, run.status, run.conclusion, run.duration_s)
    now = datetime.now(UTC)  # where the bars of jobs still running end
    job_predictions = job_comparisons(conn, run.id) if prediction is not None else []
    window = service.default_window(conn, filters.days)
    # GitHub numbers a workflow's runs #1, #2, …; where the number is not known (history
    # files), the run's id is no such number and is not shown as one
    number = f"#{run.run_number}" if run.run_number else f"· run {run.run_id}"
    title = f"{run.workflow.name} {number}"
    return render(
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
        timeline_chart=charts.timeline(job_bars(run.jobs, now)),
        waited_s=run.waited_s(container.settings.anomaly.wait_between_jobs_minutes * 60),
    )


@router.get("/repositories/{owner}/{name}/runs/{run_id}/jobs/{job_pk}", response_class=HTMLResponse)
def job_page(
    request: Request,
    owner: str,
    name: str,
    run_id: str,
    job_pk: RowId,
    conn: ConnectionDep,
    filters: FiltersDep,
) -> HTMLResponse:
    """One job: its steps on a timeline, and the same job's history in its workflow."""
    full_name = _repository(conn, owner, name)
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
        "layout": {
            "yaxis": {"title": {"text": "minutes"}},
            "xaxis": {"type": "date", "range": charts.window_range(window)},
        },
    }
    return render(
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
                (
                    f"{s.number}. {s.name}",
                    s.started_at,
                    s.completed_at,
                    _step_group(s),
                    s.conclusion,
                )
                for s in job.steps
            ],
            charts.STEP_OUTCOMES,
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
