"""``/api/v1/capabilities``: each capability's mode now, and switching it live.

A switch is stored (with who, when and why) and takes effect in every process
within ``capability.CACHE_S`` seconds, without a restart; it deletes nothing.
``CONTROLTOWER_ML_ENABLED=false`` wins over any switch: the mode reads ``off``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from controltower.intelligence.capability import (
    CapabilityMode,
    all_modes,
    capability_mode,
    switch_mode,
)
from controltower.store.capabilities import Switch, switch_history
from controltower.web.deps import WRITES, ConnectionDep, ContainerDep

router = APIRouter(prefix="/api/v1", tags=["capabilities"])
Mode = Literal["off", "shadow", "canary", "on"]


class SwitchPublic(BaseModel):
    """One switch of a capability's mode."""

    mode: str
    changed_at: datetime
    changed_by: str
    reason: str | None


class CapabilityPublic(BaseModel):
    """A capability's mode now; ``source`` is ``switch``, ``settings``, ``ml_enabled`` or
    ``enabled`` (the last two: a kill switch)."""

    name: str
    mode: str
    source: str
    changed_at: datetime | None
    changed_by: str | None
    reason: str | None
    history: list[SwitchPublic]


class SwitchRequest(BaseModel):
    """The mode to switch to, and why."""

    mode: Mode
    reason: str | None = Field(default=None, max_length=2000)
    changed_by: str | None = Field(default=None, max_length=255)


def _switch(s: Switch) -> SwitchPublic:
    return SwitchPublic(
        mode=s.mode, changed_at=s.changed_at, changed_by=s.changed_by, reason=s.reason
    )


def _public(current: CapabilityMode, history: list[Switch]) -> CapabilityPublic:
    s = current.switch
    return CapabilityPublic(
        name=current.name,
        mode=current.mode,
        source=current.source,
        changed_at=s.changed_at if s else None,
        changed_by=s.changed_by if s else None,
        reason=s.reason if s else None,
        history=[_switch(h) for h in history],
    )


@router.get("/capabilities")
def capabilities(conn: ConnectionDep, container: ContainerDep) -> list[CapabilityPublic]:
    """Every capability's mode now, with its recent switches (newest first)."""
    return [_public(c, switch_history(conn, c.name)) for c in all_modes(conn, container.settings)]


@router.put("/capabilities/{name}", dependencies=WRITES)
def switch(
    name: str, body: SwitchRequest, request: Request, container: ContainerDep
) -> CapabilityPublic:
    """Switch capability ``name`` to a mode; effective everywhere within a second or two."""
    client = request.client.host if request.client else "unknown"
    with container.engine.begin() as conn:
        switch_mode(
            conn, name, body.mode, changed_by=body.changed_by or f"api:{client}", reason=body.reason
        )
    with container.engine.connect() as conn:
        current = capability_mode(conn, container.settings, name)
        return _public(current, switch_history(conn, name))
