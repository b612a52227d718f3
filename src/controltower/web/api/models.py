"""``/api/v1/models``: the registry of model versions, their reports, promote and roll back.

Reading is open; promoting and rolling back are writes (the API token where
one is set, ``deps.require_token``), each one transaction, as
``controltower model promote`` and ``model rollback`` are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from controltower.intelligence import registry
from controltower.web.deps import WRITES, ConnectionDep, ContainerDep, RowId

router = APIRouter(prefix="/api/v1", tags=["models"])


class VersionPublic(BaseModel):
    """One version: its state, what serves each figure, and the pooled figures that chose it."""

    version: int
    status: str = Field(description="candidate, live or archived")
    created_at: datetime
    promoted_at: datetime | None
    archived_at: datetime | None
    trained_runs: int
    history_as_of: datetime | None = Field(
        default=None,
        description="the moment the history it learnt from stood as it learnt it, for a "
        "version trained as of a past moment (the demo's first); null: all stored history",
    )
    failure_predictor: str = Field(description="what decides pass or fail (best F1)")
    probability_predictor: str = Field(
        description="what gives the failure probability (best Brier score, then ROC AUC)"
    )
    duration_predictor: str
    job_failure_predictor: str | None = Field(
        description="model or baselines for jobs' failure figures; null without a job model"
    )
    job_duration_predictor: str | None = Field(
        default=None,
        description="model or median5 for jobs' durations; null with no jobs stored",
    )
    promoted_by: str | None = Field(
        description="who made it live last: operator (promote, rollback) or training; "
        "scheduled training only registers candidates while an operator's choice is live"
    )
    failure_f1: dict[str, float | None]
    duration_mdape: dict[str, float | None]


class VersionReport(VersionPublic):
    """A version with its evaluation report (``model evaluate --json``; jobs under ``jobs``)."""

    report: dict[str, Any]


def _public(info: registry.VersionInfo) -> VersionPublic:
    return VersionPublic(**info.summary())


@router.get("/models")
def list_versions(conn: ConnectionDep) -> list[VersionPublic]:
    """Every registered version, newest first; archived ones are kept."""
    return [_public(info) for info in registry.versions(conn)]


@router.get("/models/{version}")
def get_version(version: RowId, conn: ConnectionDep) -> VersionReport:
    """One version with its evaluation report."""
    info = registry.version(conn, version)
    return VersionReport(**info.summary(), report=info.report)


@router.post("/models/rollback", dependencies=WRITES)
def rollback(container: ContainerDep) -> VersionPublic:
    """Make live again the version live before the current one; the current one is archived."""
    with container.engine.begin() as conn:
        return _public(registry.rollback(conn))


@router.post("/models/{version}/promote", dependencies=WRITES)
def promote(version: RowId, container: ContainerDep) -> VersionPublic:
    """Make ``version`` live; the version live until now is archived."""
    with container.engine.begin() as conn:
        return _public(registry.promote(conn, version))
