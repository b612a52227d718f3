"""``/api/v1/anomalies``: the anomalies the scheduled detection recorded, and their verdicts.

A verdict is a write: one transaction of its own, with the API token where
one is set (``deps.require_token``); a refused one changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from controltower.store.anomalies import (
    StoredAnomaly,
    get_anomaly,
    recent_anomalies,
    set_verdict,
)
from controltower.web.deps import WRITES, ConnectionDep, ContainerDep, Offset, RowId

router = APIRouter(prefix="/api/v1", tags=["anomalies"])


class VerdictRequest(BaseModel):
    """Whether the anomaly is a real change, who says so, and optionally why.

    ``verdict`` null takes an earlier verdict back.
    """

    verdict: Literal["confirmed", "dismissed"] | None
    by: str | None = Field(default=None, max_length=128, examples=["ana"])
    note: str | None = Field(default=None, max_length=2000)


@router.get("/anomalies")
def get_anomalies(
    conn: ConnectionDep,
    active: bool = Query(default=False, description="Only those going on and not dismissed."),
    verdict: Literal["confirmed", "dismissed", "none"] | None = Query(
        default=None, description="Only those with this verdict (none: those without one)."
    ),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: Offset = 0,
) -> list[StoredAnomaly]:
    """Recorded anomalies, newest first: kind, severity, size against normal, start, trigger."""
    return recent_anomalies(conn, active_only=active, verdict=verdict, limit=limit, offset=offset)


@router.get("/anomalies/{anomaly_id}")
def get_one_anomaly(anomaly_id: RowId, conn: ConnectionDep) -> StoredAnomaly:
    """One recorded anomaly, with its verdict if it has one."""
    return get_anomaly(conn, anomaly_id)


@router.post("/anomalies/{anomaly_id}/verdict", dependencies=WRITES)
def give_verdict(anomaly_id: RowId, body: VerdictRequest, container: ContainerDep) -> StoredAnomaly:
    """Say whether an anomaly is a real change (``confirmed``) or not (``dismissed``).

    A dismissed anomaly leaves the overview and no longer raises an alert
    (its alert resolves at the next evaluation); confirmed ones are what
    ``anomaly evaluate`` knows to be present in the stored series.
    """
    with container.engine.begin() as conn:
        return set_verdict(conn, anomaly_id, body.verdict, body.by, body.note, datetime.now(UTC))
