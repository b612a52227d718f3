"""``/healthz`` (the process answers) and ``/readyz`` (the database answers and is current)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from controltower.errors import MigrationRequired
from controltower.store.engine import reading
from controltower.store.schema import ensure_current
from controltower.web.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(container: ContainerDep) -> JSONResponse:
    """Ready to take traffic: the database answers and its schema is current."""
    try:
        with container.engine.connect() as conn:
            reading(conn).execute(text("SELECT 1"))
        ensure_current(container.engine)
    except (SQLAlchemyError, MigrationRequired) as exc:
        return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
    return JSONResponse({"status": "ready"})
