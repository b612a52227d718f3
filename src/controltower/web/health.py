"""``/healthz`` (the process answers) and ``/readyz`` (ready for traffic, with every health check).

``/readyz`` answers 503 only when the database check fails: a backlog or a
quiet webhook makes the installation degraded, and taking the server out of
rotation would only make that worse. Its body carries the overall health and
each check, as ``controltower health --json`` prints them.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from controltower.bootstrap.health import check_health
from controltower.web.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(container: ContainerDep) -> JSONResponse:
    """Ready to take traffic: the database answers and its schema is current."""
    health = check_health(container.engine, container.settings)
    document = health.document()
    checks = document.pop("checks")
    body = {"health": document["status"], "checked_at": document["checked_at"], "checks": checks}
    database = health.check("database")
    if database.status == "failing":
        return JSONResponse(
            {"status": "unavailable", "detail": database.detail, **body}, status_code=503
        )
    return JSONResponse({"status": "ready", **body})
