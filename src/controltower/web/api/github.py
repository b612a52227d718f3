"""``/api/v1/completeness`` and ``/api/v1/problems``: how much webhooks missed, and what to fix."""

from __future__ import annotations

from fastapi import APIRouter

from controltower.telemetry import completeness
from controltower.web.deps import ConnectionDep, ContainerDep

router = APIRouter(prefix="/api/v1", tags=["github"])


@router.get("/completeness")
def get_completeness(conn: ConnectionDep, container: ContainerDep) -> completeness.Completeness:
    """Share of the runs GitHub listed that arrived by webhook, overall and per repository."""
    threshold = container.settings.reconcile.completeness_threshold
    return completeness.data_completeness(conn, threshold)


@router.get("/problems")
def get_problems(conn: ConnectionDep, container: ContainerDep) -> list[completeness.Problem]:
    """Active problems (today: data completeness below the configured threshold)."""
    threshold = container.settings.reconcile.completeness_threshold
    return completeness.active_problems(conn, threshold)
