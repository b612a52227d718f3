"""``/api/v1/alerts`` and ``/api/v1/silences``: alerts, acknowledgements and silences.

Reads use the request's read connection; each write is one transaction of its
own, needs the API token where one is set (``deps.require_token``), and a
refused write (``AlertError``, mapped in ``web.errors``) changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from controltower.telemetry import acknowledgements, alert_records, silences
from controltower.telemetry.alert_records import AlertRecord
from controltower.web.deps import WRITES, ConnectionDep, ContainerDep, Offset, RowId

router = APIRouter(prefix="/api/v1", tags=["alerts"])
Severity = Literal["info", "warning", "critical"]


class AckRequest(BaseModel):
    """Who acknowledges the alert, and optionally a note for the others."""

    by: str = Field(min_length=1, max_length=128, pattern=r"\S", examples=["ana"])
    note: str | None = Field(default=None, max_length=2000)


class SilenceCreate(BaseModel):
    """A silence: matchers, its end (``ends_at`` or ``duration``), why and who."""

    kind: str = Field(default="*", min_length=1, max_length=64, examples=["anomaly", "ingest-*"])
    repository: str = Field(default="*", min_length=1, max_length=255, examples=["acme/*"])
    rule: str | None = Field(default=None, max_length=128)
    key: str | None = Field(default=None, max_length=512)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    duration: str | None = Field(default=None, max_length=32, examples=["2h", "30m", "1d"])
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")
    created_by: str = Field(min_length=1, max_length=128, pattern=r"\S")

    @model_validator(mode="after")
    def _one_end(self) -> SilenceCreate:
        if (self.ends_at is None) == (self.duration is None):
            raise ValueError("give either ends_at or duration, not both or neither")
        return self


class SilencePublic(BaseModel):
    """A silence, and whether it is in force now."""

    id: int
    kind: str
    repository: str
    rule: str | None
    key: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    expired_at: datetime | None
    active: bool


def _public(silence: silences.StoredSilence, now: datetime) -> SilencePublic:
    return SilencePublic(**asdict(silence), active=silence.active(now))


@router.get("/alerts")
def list_alerts(
    conn: ConnectionDep,
    state: Literal["firing", "resolved", "all"] = "firing",
    severity: Severity | None = None,
    acknowledged: bool | None = None,
    silenced: bool | None = None,
    limit: int = Query(default=50, ge=1, le=1000),
    offset: Offset = 0,
) -> list[AlertRecord]:
    """Alerts, firing first (worst first), then the most recently resolved."""
    return alert_records.list_alerts(
        conn,
        datetime.now(UTC),
        state=state,
        severity=severity,
        acknowledged=acknowledged,
        silenced=silenced,
        limit=limit,
        offset=offset,
    )


@router.get("/alerts/{alert_id}")
def get_alert(alert_id: RowId, conn: ConnectionDep) -> AlertRecord:
    """One alert, with its acknowledgement and the silence covering it, if any."""
    return alert_records.get_alert(conn, alert_id, datetime.now(UTC))


@router.post("/alerts/{alert_id}/ack", dependencies=WRITES)
def acknowledge(alert_id: RowId, body: AckRequest, container: ContainerDep) -> AlertRecord:
    """Acknowledge a firing alert: it is not notified again while it grows worse."""
    with container.engine.begin() as conn:
        return acknowledgements.acknowledge(conn, alert_id, body.by, body.note, datetime.now(UTC))


@router.post("/alerts/{alert_id}/unack", dependencies=WRITES)
def unacknowledge(alert_id: RowId, container: ContainerDep) -> AlertRecord:
    """Take back an alert's acknowledgement."""
    with container.engine.begin() as conn:
        return acknowledgements.unacknowledge(conn, alert_id, datetime.now(UTC))


@router.get("/silences")
def list_silences(
    conn: ConnectionDep,
    active: bool = Query(default=False, description="Only those not yet over."),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: Offset = 0,
) -> list[SilencePublic]:
    """Silences, those ending last first; ended ones stay as history."""
    now = datetime.now(UTC)
    found = silences.list_silences(conn, now, active_only=active, limit=limit, offset=offset)
    return [_public(s, now) for s in found]


@router.post("/silences", status_code=201, dependencies=WRITES)
def create_silence(body: SilenceCreate, container: ContainerDep) -> SilencePublic:
    """Silence the alerts the matchers select, from ``starts_at`` (default now) to its end."""
    now = datetime.now(UTC)
    request = silences.SilenceRequest(
        reason=body.reason,
        created_by=body.created_by,
        kind=body.kind,
        repository=body.repository,
        rule=body.rule,
        key=body.key,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        duration=silences.parse_duration(body.duration) if body.duration else None,
    )
    with container.engine.begin() as conn:
        return _public(silences.create_silence(conn, request, now), now)


@router.post("/silences/{silence_id}/expire", dependencies=WRITES)
def expire_silence(silence_id: RowId, container: ContainerDep) -> SilencePublic:
    """End a silence now; it stays listed as history."""
    now = datetime.now(UTC)
    with container.engine.begin() as conn:
        return _public(silences.expire_silence(conn, silence_id, now), now)
