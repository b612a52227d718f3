"""Server-rendered pages. For now: the list of recent runs at ``/``."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from controltower.store import queries
from controltower.web.deps import ConnectionDep

router = APIRouter(tags=["pages"], include_in_schema=False)
templates = Jinja2Templates(directory=str(files("controltower.web") / "templates"))


@router.get("/", response_class=HTMLResponse)
def recent_runs_page(request: Request, conn: ConnectionDep) -> HTMLResponse:
    """The most recent runs, and the ingest backlog."""
    return templates.TemplateResponse(
        request,
        "runs.html",
        {
            "runs": queries.recent_runs(conn, limit=100),
            "total": queries.count_runs(conn),
            "deliveries": queries.delivery_states(conn),
        },
    )
