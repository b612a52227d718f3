"""Errors on dashboard pages as pages: a browser asking for HTML gets the message in the layout.

The API, the webhook endpoint and the probes keep answering JSON (or text):
``wants_page`` decides by path and by what the client accepts, so scripts
and tests that ask for JSON see the same bodies as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from controltower.web.errors import PHRASES
from controltower.web.pages.filters import PageFilters, templates

# Paths whose answers are for programs, whatever the client accepts.
NOT_PAGES = ("/api/", "/webhooks", "/healthz", "/readyz", "/metrics", "/static/", "/openapi")


def wants_page(request: Request) -> bool:
    """Whether ``request`` is a browser's GET of a dashboard page (it accepts HTML)."""
    path = request.url.path
    accepts = request.headers.get("accept", "")
    return request.method == "GET" and not path.startswith(NOT_PAGES) and "text/html" in accepts


SOURCES = ("query", "path", "body", "header", "cookie")  # where a field came from: not its name


def invalid_fields(errors: Sequence[Any]) -> str:
    """Validation errors in words: "days: Input should be a valid integer"."""
    said = []
    for error in errors:
        where = [str(part) for part in error.get("loc", ()) if part not in SOURCES]
        message = error.get("msg", "invalid")
        said.append(f"{'.'.join(where)}: {message}" if where else message)
    return "; ".join(said)


TITLES = {400: "Invalid request", 404: "Not found", 422: "Invalid request", 503: "Unavailable"}


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    """The page for an error: its status in words, what was wrong, and where to go from here."""
    title = TITLES.get(status) or PHRASES.get(status, "Error")
    if status == 404 and detail == HTTPStatus.NOT_FOUND.phrase:  # no route: say which page
        detail = f"there is no page at {request.url.path}"
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "page": "error",
            "title": title,
            "status": status,
            "detail": detail,
            "filters": PageFilters(),
            "query": "",
            "window": None,
            "as_of": None,
        },
        status_code=status,
    )
