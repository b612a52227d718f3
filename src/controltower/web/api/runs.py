"""``/api/v1/runs``: recent run attempts; ``/api/v1/ingest``: the delivery backlog."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from controltower.domain.limits import INT32_MAX
from controltower.store import queries
from controltower.telemetry import drilldown
from controltower.web.deps import ConnectionDep

router = APIRouter(prefix="/api/v1", tags=["runs"])


class IngestPublic(BaseModel):
    """Stored deliveries by state, and stored run attempts."""

    deliveries: dict[str, int]
    runs: int


@router.get("/runs")
def list_runs(
    conn: ConnectionDep,
    limit: int = Query(default=50, ge=1, le=1000),
    repository: str | None = Query(
        default=None, description="Only this repository: OWNER/NAME, in any case (as on GitHub)."
    ),
) -> list[queries.RunRow]:
    """The most recent run attempts, newest first; repositories are named as stored."""
    return queries.recent_runs(conn, limit=limit, repository=repository)


@router.get("/ingest")
def ingest_status(conn: ConnectionDep) -> IngestPublic:
    """How many deliveries are pending, processed, ignored or failed."""
    return IngestPublic(deliveries=queries.delivery_states(conn), runs=queries.count_runs(conn))


class RunPublic(BaseModel):
    """One run attempt with its jobs and steps, and the jobs on its critical path."""

    run: drilldown.RunDetail
    critical_path: list[str]


@router.get("/repositories/{owner}/{name}/runs/{run_id}")
def get_run(
    owner: str,
    name: str,
    run_id: str,
    conn: ConnectionDep,
    attempt: int | None = Query(default=None, ge=1, le=INT32_MAX),
) -> RunPublic:
    """One attempt of a run (the latest unless ``attempt`` is given)."""
    run = drilldown.run_detail(conn, f"{owner}/{name}", run_id, attempt)
    if run is None:
        raise HTTPException(
            404, f"no run {run_id} (attempt {attempt or 'latest'}) in {owner}/{name}"
        )
    return RunPublic(run=run, critical_path=[job.name for job in run.critical_path])
