"""``/healthz`` (the process answers) and ``/readyz`` (ready for traffic, with every health check).

``/readyz`` answers 503 only when the database check fails: a backlog or a
quiet webhook makes the installation degraded, and taking the server out of
rotation would only make that worse. Its body carries the overall health and
each check, as ``controltower health --json`` prints them.

Load balancers and orchestrators poll readiness every few seconds from every
replica; a result whose database check passed is kept for ``READY_SECONDS``
and served to the polls that follow (one run of the checks at a time), so
polling costs the database at most one set of checks per interval however
often it comes. A failing database is never kept: the next poll checks
again, so a server is back in rotation as soon as its database is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from controltower.bootstrap.health import Health, check_health
from controltower.web.deps import ContainerDep

router = APIRouter(tags=["health"])
READY_SECONDS = 5.0


class ReadinessCache:
    """The last health whose database check passed, kept for ``seconds``."""

    def __init__(self, seconds: float = READY_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._kept: tuple[float, Health] | None = None

    def get(self, fresh: Callable[[], Health]) -> Health:
        """The kept health while young enough, else ``fresh()`` (kept if the database is up)."""
        with self._lock:
            now = time.monotonic()
            if self._kept is not None and now - self._kept[0] < self.seconds:
                return self._kept[1]
            health = fresh()
            up = health.check("database").status != "failing"
            self._kept = (now, health) if up else None
            return health


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, container: ContainerDep) -> JSONResponse:
    """Ready to take traffic: the database answers and its schema is current."""
    cache: ReadinessCache = request.app.state.readiness
    health = cache.get(lambda: check_health(container.engine, container.settings))
    document = health.document()
    checks = document.pop("checks")
    body = {"health": document["status"], "checked_at": document["checked_at"], "checks": checks}
    database = health.check("database")
    if database.status == "failing":
        return JSONResponse(
            {"status": "unavailable", "detail": database.detail, **body}, status_code=503
        )
    return JSONResponse({"status": "ready", **body})
