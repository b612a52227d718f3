"""``/api/v1/metrics``, ``/cost`` and ``/dora``: what CI did over a window, and what it cost."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Connection

from controltower.telemetry import activity, deployments, feed, service
from controltower.telemetry.dora import Dora
from controltower.telemetry.metrics import GroupMetrics, Window
from controltower.telemetry.scope import Filters
from controltower.web.api.predictions import model_accuracy_problems
from controltower.web.deps import ConnectionDep, ContainerDep, kept

router = APIRouter(prefix="/api/v1", tags=["telemetry"])
# The moments a window may start or end at: room for the window as long before it.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


class WindowParams(BaseModel):
    """The time range and filters every telemetry endpoint takes.

    ``start`` and ``end`` are ISO 8601 dates or times; one without a zone
    (``2026-08-01``, ``2026-08-01T12:00``) is read as UTC, and both lie
    from 1970 to 2999 (a window compares with the one as long before it,
    which years near 1 or 9999 leave no room for). ``days`` (1 to 3650, as
    on the dashboard) sets the window's length when ``start`` is not given.
    """

    start: datetime | None = None
    end: datetime | None = None
    days: int = Field(default=30, ge=1, le=3650)
    repository: str | None = Field(
        default=None, description="Only this repository: OWNER/NAME, in any case (as on GitHub)."
    )
    workflow: str | None = None
    branch: str | None = None
    event: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return value
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if not EARLIEST <= moment < LATEST:
            raise ValueError(f"must lie from {EARLIEST.year} to {LATEST.year - 1}")
        return moment


WindowQuery = Annotated[WindowParams, Query()]


class MetricsPublic(BaseModel):
    """Metrics per group over a window."""

    start: datetime
    end: datetime
    previous_start: datetime
    group_by: str
    groups: list[GroupMetrics]
    computed_at: datetime


class CostPublic(BaseModel):
    """Cost over a window; ``runs_estimated`` were priced from run duration (no jobs known)."""

    start: datetime
    end: datetime
    computed_at: datetime
    total_usd: float
    billed_minutes: int
    jobs_billed: int
    jobs_free: int
    runs_estimated: int
    by_repository: dict[str, float]
    by_workflow: dict[str, float]
    by_day: dict[date, float]
    by_runner: dict[str, float]


def _window(conn: Any, params: WindowParams) -> Window:
    if params.start is not None:
        end = params.end or service.default_window(conn, params.days).end
        if params.start >= end:  # refused like a malformed parameter
            message = f"Value error, start must be before end ({end.isoformat()})"
            error = {"type": "value_error", "loc": ("query", "start"), "msg": message}
            raise RequestValidationError([{**error, "input": params.start.isoformat()}])
        return Window(params.start, end)
    return service.default_window(conn, params.days, params.end)


def _filters(params: WindowParams) -> Filters:
    return Filters(params.repository, params.workflow, params.branch, params.event)


@router.get("/metrics")
def get_metrics(
    container: ContainerDep,
    params: WindowQuery,
    group_by: Literal["repository", "workflow", "branch", "job"] = "repository",
) -> MetricsPublic:
    """Runs, outcome rates, duration and queue percentiles, re-runs and flaky commits per group.

    Figures are kept for ``telemetry.view_ttl_s`` seconds (``computed_at`` says when).
    """

    def compute(conn: Connection) -> tuple[Window, list[GroupMetrics]]:
        window = _window(conn, params)
        return window, service.metrics(conn, window, _filters(params), group_by)

    view = kept(container, ("api-metrics", _params_key(params), group_by), compute)
    window, groups = view.value
    return MetricsPublic(
        start=window.start,
        end=window.end,
        previous_start=window.previous().start,
        group_by=group_by,
        groups=groups,
        computed_at=view.computed_at,
    )


def _params_key(params: WindowParams) -> tuple[Any, ...]:
    return tuple(params.model_dump().values())


@router.get("/cost")
def get_cost(container: ContainerDep, params: WindowQuery) -> CostPublic:
    """Cost of the window's runs by repository, workflow, day and runner type."""
    rates = service.rate_table(container.settings.telemetry.rates)

    def compute(conn: Connection) -> tuple[Window, service.CostReport]:
        window = _window(conn, params)
        return window, service.cost(conn, window, _filters(params), rates)

    view = kept(container, ("api-cost", _params_key(params)), compute)
    window, report = view.value
    return CostPublic(
        start=window.start,
        end=window.end,
        computed_at=view.computed_at,
        **{
            k: (round(v, 4) if isinstance(v, float) else v)
            for k, v in vars(report).items()
            if not k.startswith("by_")
        },
        by_repository={k: round(v, 4) for k, v in report.by_repository.items()},
        by_workflow={k: round(v, 4) for k, v in report.by_workflow.items()},
        by_day={k: round(v, 4) for k, v in sorted(report.by_day.items())},
        by_runner={k: round(v, 4) for k, v in report.by_runner.items()},
    )


class KeyPublic(BaseModel):
    """One DORA key: value, unit, performance band, and coverage of the deployments."""

    value: float | None
    unit: str
    band: Literal["elite", "high", "medium", "low"] | None
    covered: int
    eligible: int
    coverage: float | None


class DoraPublic(BaseModel):
    """The four keys over a window; docs/telemetry.md says how deployments are identified."""

    start: datetime
    end: datetime
    computed_at: datetime
    deployments: int
    deployment_frequency: KeyPublic
    lead_time: KeyPublic
    change_failure_rate: KeyPublic
    time_to_restore: KeyPublic


def _key(key: Any) -> KeyPublic:
    return KeyPublic(
        value=key.value,
        unit=key.unit,
        band=key.band,
        covered=key.covered,
        eligible=key.eligible,
        coverage=key.coverage,
    )


@router.get("/dora")
def get_dora(container: ContainerDep, params: WindowQuery) -> DoraPublic:
    """Deployment frequency, lead time, change failure rate and time to restore, with bands."""

    def compute(conn: Connection) -> tuple[Window, Dora]:
        window = _window(conn, params)
        return window, deployments.dora_report(
            conn, window, _filters(params), container.settings.telemetry.dora
        )

    view = kept(container, ("api-dora", _params_key(params)), compute)
    window, report = view.value
    return DoraPublic(
        start=window.start,
        end=window.end,
        computed_at=view.computed_at,
        deployments=report.deployments,
        deployment_frequency=_key(report.deployment_frequency),
        lead_time=_key(report.lead_time),
        change_failure_rate=_key(report.change_failure_rate),
        time_to_restore=_key(report.time_to_restore),
    )


class ProblemsPublic(BaseModel):
    """Active problems (at most ``limit``, worst and newest first) and how many there are."""

    count: int
    problems: list[activity.Problem]


@router.get("/problems")
def get_problems(
    conn: ConnectionDep,
    container: ContainerDep,
    params: WindowQuery,
    limit: int = Query(default=20, ge=1, le=500),
) -> ProblemsPublic:
    """What needs attention now: failing default branches, ingest, and data completeness."""
    window = _window(conn, params)
    settings = container.settings
    found, count = activity.problems(
        conn,
        window,
        _filters(params),
        settings.telemetry,
        limit=limit,
        completeness_threshold=settings.reconcile.completeness_threshold,
        anomalies=settings.anomaly.enabled,
        extra=model_accuracy_problems(conn),
    )
    return ProblemsPublic(count=count, problems=found)


@router.get("/events")
def get_events(
    conn: ConnectionDep, params: WindowQuery, limit: int = Query(default=50, ge=1, le=500)
) -> list[feed.Event]:
    """The latest runs, deployment statuses and pushes, newest first."""
    return feed.feed(conn, _filters(params), limit=limit)
