"""What every dashboard page shares: its query-string filters, number formats and rendering.

Filters (days, branch, event) live in the query string and every link on a
page carries them, so a view can be shared and drilling down keeps them.
The Jinja2 templates object is built here once, with the number formats
(``pct``, ``prob``, ``delta``, ``mins``, ``secs``) and a run's result in a word
(``result``) as template globals.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BeforeValidator
from sqlalchemy import Connection

from controltower.domain import END_NOT_KNOWN, run_result
from controltower.intelligence.selection import PREDICTOR_WORDS
from controltower.telemetry import service
from controltower.telemetry.anomaly_words import duration_words
from controltower.telemetry.metrics import Window
from controltower.telemetry.scope import Filters

DEFAULT_DAYS = 30
templates = Jinja2Templates(directory=str(files("controltower.web") / "templates"))


def pct(value: float | None) -> str:
    """A share as a percentage, or an en dash."""
    return "–" if value is None else f"{value * 100:.1f}%"


def prob(value: float | None) -> str:
    """A probability as a whole percentage, never rounded to a certainty it is not."""
    if value is None:
        return "–"
    if 0 < value < 0.005:
        return "<1%"
    if 0.995 < value < 1:
        return ">99%"
    return f"{value * 100:.0f}%"


def delta(value: float | None) -> str:
    """A change of a share in percentage points, signed."""
    return "–" if value is None else f"{value * 100:+.1f} pp"


def mins(seconds: float | None) -> str:
    """Seconds as minutes with one decimal."""
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def duration(seconds: float | None) -> str:
    """Seconds in the largest unit that fits (days, hours, minutes or seconds)."""
    return "–" if seconds is None else duration_words(seconds)


def result(run: Any) -> str:
    """A listed run's result: its conclusion, its status while it can be going on, else
    "end not known" (``domain.run_result``); ``run`` has ``status``, ``conclusion`` and
    ``created_at`` (and ``started_at`` where it is known)."""
    since = getattr(run, "started_at", None) or run.created_at
    return run_result(run.status, run.conclusion, since, datetime.now(UTC))


class PageFilters:
    """The query-string filters of every page."""

    def __init__(
        self, days: int = DEFAULT_DAYS, branch: str | None = None, event: str | None = None
    ):
        self.days = days
        self.branch = branch or None
        self.event = event or None

    def query(self, **extra: object) -> str:
        """The filters (and ``extra`` parameters) as a query string to append to links."""
        values = {"days": self.days, "branch": self.branch, "event": self.event, **extra}
        kept = {k: v for k, v in values.items() if v is not None}
        return "?" + urlencode(kept) if kept else ""

    def key(self) -> tuple[int, str | None, str | None]:
        """The filters as part of a view's key."""
        return (self.days, self.branch, self.event)

    def link(self, path: str, **extra: object) -> str:
        """``path`` with the filters, so following the link keeps them."""
        return path + self.query(**extra)


def _blank_is_default(value: object) -> object:
    """A field the form left empty (``?days=``) takes the default, as if it were not given."""
    return DEFAULT_DAYS if value == "" else value


def _page_filters(
    days: Annotated[int, BeforeValidator(_blank_is_default), Query(ge=1, le=3650)] = DEFAULT_DAYS,
    branch: str | None = None,
    event: str | None = None,
) -> PageFilters:
    return PageFilters(days, branch, event)


FiltersDep = Annotated[PageFilters, Depends(_page_filters)]


def page_scope(
    conn: Connection, filters: PageFilters, repository: str | None = None
) -> tuple[Window, Filters]:
    """The window the filters ask for and the scope they select (optionally one repository)."""
    window = service.default_window(conn, filters.days)
    return window, Filters(repository, None, filters.branch, filters.event)


def render(
    request: Request,
    name: str,
    page: str,
    title: str,
    filters: PageFilters,
    window: Window,
    **context: Any,
) -> HTMLResponse:
    """The template ``name`` with what every page's layout needs, and ``context``."""
    return templates.TemplateResponse(
        request,
        name,
        {
            "page": page,
            "title": title,
            "filters": filters,
            "query": filters.query(),
            "window": window,
            "as_of": None,
            **context,
        },
    )


# What each predictor is, in words, where a page names it.
PREDICTORS = PREDICTOR_WORDS

templates.env.globals.update(
    pct=pct,
    prob=prob,
    delta=delta,
    mins=mins,
    secs=duration,
    predictor=PREDICTORS.get,
    result=result,
    END_NOT_KNOWN=END_NOT_KNOWN,
)
