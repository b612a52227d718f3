"""``/api/v1/deliveries``: stored webhook deliveries, and failed ones processed again.

The same as ``controltower deliveries list`` and ``retry``: a delivery whose
payload could not be normalized is kept, marked ``failed`` with the reason;
once the code that failed on it is mended, a retry sets it pending again and
the worker's next sweep (within a minute) normalizes it anew.
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from controltower.domain.status import DeliveryState
from controltower.ingest.processing import StoredDelivery, retry_failed, stored_deliveries
from controltower.web.deps import WRITES, ConnectionDep, ContainerDep

router = APIRouter(prefix="/api/v1", tags=["ingest"])


class RetryRequest(BaseModel):
    """Which failed deliveries to process again: those named, else every one (of ``event`` only,
    when given)."""

    guids: list[str] = Field(default_factory=list, max_length=10_000)
    event: str | None = Field(default=None, max_length=64)


class RetryPublic(BaseModel):
    """How many failed deliveries are pending again."""

    pending_again: int


@router.get("/deliveries")
def list_deliveries(
    conn: ConnectionDep,
    state: DeliveryState | None = None,
    limit: int = Query(default=50, ge=1, le=10_000, description="How many, newest first."),
) -> list[StoredDelivery]:
    """The newest stored deliveries (in ``state`` only, when given), newest first, with how
    processing each ended (``note``: why it failed)."""
    return stored_deliveries(conn, state=state, limit=limit)


@router.post("/deliveries/retry", dependencies=WRITES)
def retry(body: RetryRequest, container: ContainerDep) -> RetryPublic:
    """Failed deliveries pending again, for the worker's next sweep to normalize anew."""
    with container.engine.begin() as conn:
        return RetryPublic(pending_again=retry_failed(conn, body.guids, body.event))
