"""The dashboard's scripts: plotly.js from the installed plotly package, and dashboard.js.

plotly.js is served from the package rather than a CDN, so the dashboard
works offline.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import plotly
from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(tags=["pages"], include_in_schema=False)
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
STATIC = Path(str(files("controltower.web") / "static"))


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package (no CDN: works offline)."""
    return FileResponse(
        PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/static/dashboard.js")
def dashboard_js() -> FileResponse:
    """The few lines that draw the charts."""
    return FileResponse(STATIC / "dashboard.js", media_type="text/javascript")
