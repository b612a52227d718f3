"""``/api/v1/runs``: recent run attempts; ``/api/v1/ingest``: the delivery backlog."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel

from controltower.store import queries
from controltower.web.deps import ConnectionDep

router = APIRouter(prefix="/api/v1", tags=["runs"])


class RunPublic(BaseModel):
    """A run attempt as the API shows it."""

    id: int
    repository: str
    workflow: str
    run_id: str
    attempt: int
    run_number: int | None
    event: str | None
    branch: str | None
    actor: str | None
    status: str
    conclusion: str | None
    created_at: datetime | None
    duration_s: float | None
    source: str


class IngestPublic(BaseModel):
    """Stored deliveries by state, and stored run attempts."""

    deliveries: dict[str, int]
    runs: int


@router.get("/runs")
def list_runs(
    conn: ConnectionDep,
    limit: int = Query(default=50, ge=1, le=1000),
    repository: str | None = None,
) -> list[RunPublic]:
    """The most recent run attempts, newest first."""
    rows = queries.recent_runs(conn, limit=limit, repository=repository)
    return [RunPublic.model_validate(row, from_attributes=True) for row in rows]


@router.get("/ingest")
def ingest_status(conn: ConnectionDep) -> IngestPublic:
    """How many deliveries are pending, processed, ignored or failed."""
    return IngestPublic(deliveries=queries.delivery_states(conn), runs=queries.count_runs(conn))
