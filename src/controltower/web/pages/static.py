"""The dashboard's scripts: plotly.js from the installed plotly package, and dashboard.js.

plotly.js is served from the package rather than a CDN, so the dashboard
works offline. It is 4.8 MB: compressed once (gzip, 1.4 MB) and sent so to a
browser that takes gzip, with an ETag so a browser whose day of caching ran out
asks again and gets a 304.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from importlib.resources import files
from pathlib import Path

import plotly
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

router = APIRouter(tags=["pages"], include_in_schema=False)
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
STATIC = Path(str(files("controltower.web") / "static"))
CACHED = "public, max-age=86400"


@cache
def _plotly_gzip() -> tuple[bytes, str]:
    """plotly.js compressed (made once, on the first request), and its ETag."""
    raw = PLOTLY_JS.read_bytes()
    etag = '"' + hashlib.blake2b(raw, digest_size=16).hexdigest() + '"'
    return gzip.compress(raw, compresslevel=6, mtime=0), etag


@router.get("/static/plotly.min.js")
def plotly_js(request: Request) -> Response:
    """plotly.js from the installed plotly package (no CDN: works offline), gzipped where
    the browser takes it."""
    if "gzip" not in request.headers.get("accept-encoding", ""):
        return FileResponse(
            PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": CACHED}
        )
    body, etag = _plotly_gzip()
    headers = {"Cache-Control": CACHED, "ETag": etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="text/javascript", headers=headers)


@router.get("/static/dashboard.js")
def dashboard_js() -> FileResponse:
    """The few lines that draw the charts."""
    return FileResponse(STATIC / "dashboard.js", media_type="text/javascript")
