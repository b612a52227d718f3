"""``/api/v1/runs``: recent run attempts; ``/api/v1/ingest``: the delivery backlog."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from controltower.store import queries
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
    repository: str | None = None,
) -> list[queries.RunRow]:
    """The most recent run attempts, newest first."""
    return queries.recent_runs(conn, limit=limit, repository=repository)


@router.get("/ingest")
def ingest_status(conn: ConnectionDep) -> IngestPublic:
    """How many deliveries are pending, processed, ignored or failed."""
    return IngestPublic(deliveries=queries.delivery_states(conn), runs=queries.count_runs(conn))
