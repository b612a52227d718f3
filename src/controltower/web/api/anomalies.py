"""``/api/v1/anomalies``: the anomalies the scheduled detection recorded."""

from __future__ import annotations

from fastapi import APIRouter, Query

from controltower.store.anomalies import StoredAnomaly, recent_anomalies
from controltower.web.deps import ConnectionDep

router = APIRouter(prefix="/api/v1", tags=["anomalies"])


@router.get("/anomalies")
def get_anomalies(
    conn: ConnectionDep,
    active: bool = Query(default=False, description="Only those still going on."),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[StoredAnomaly]:
    """Recorded anomalies, newest first: kind, severity, size against normal, start, trigger."""
    return recent_anomalies(conn, active_only=active, limit=limit)
