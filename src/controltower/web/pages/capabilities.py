"""The ``/capabilities`` page: each capability's mode now, read-only, and how to change it.

What ``GET /api/v1/capabilities`` and ``controltower capability list`` give,
for a person: the mode, where it comes from (a switch, the settings or a kill
switch), the canary's settings, who switched it last, when and why, the
recent switches, and the command that switches it. Switching stays with the
CLI and the API (a write, behind the API token where one is set); the page
changes nothing, so it is read fresh on each request, as the alerts page is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controltower.config import Settings
from controltower.intelligence.capability import MODES, CapabilityMode, all_modes
from controltower.store.capabilities import Switch, switch_history
from controltower.telemetry.metrics import Window
from controltower.web.deps import ConnectionDep, ContainerDep
from controltower.web.pages.filters import PageFilters, templates

router = APIRouter(tags=["pages"], include_in_schema=False)
HISTORY = 10
# What each mode does, in words (the settings' intelligence.mode says the same).
MODE_WORDS = {
    "off": "nothing predicted, nothing shown (stored predictions are kept)",
    "shadow": "predicted, stored and scored; never shown",
    "canary": "shown for the canary's repositories and share of runs",
    "on": "shown for every run",
}
# Where a mode comes from, in words.
SOURCE_WORDS = {
    "switch": "switched live",
    "settings": "the settings (intelligence.mode); no switch stored",
    "ml_enabled": "CONTROLTOWER_ML_ENABLED=false, which wins over any switch",
    "enabled": "CONTROLTOWER_ENABLED=false, which wins over any switch",
}


@dataclass(frozen=True, slots=True)
class CapabilityRow:
    """One capability as the page shows it."""

    current: CapabilityMode
    source: str
    canary: str
    history: list[Switch]


def canary_words(settings: Settings) -> str:
    """The canary's settings in words: its share of runs and the repositories always in it."""
    config = settings.intelligence
    share = f"{config.canary_share * 100:g}% of runs (fixed by run id)"
    if not config.canary_repositories:
        return f"{share}; no repository always in it"
    return f"{share}, and every run of {', '.join(config.canary_repositories)}"


@router.get("/capabilities", response_class=HTMLResponse)
def capabilities_page(
    request: Request, conn: ConnectionDep, container: ContainerDep
) -> HTMLResponse:
    """Every capability's mode now, where it comes from, its last switches and how to switch."""
    settings = container.settings
    rows = [
        CapabilityRow(
            c,
            SOURCE_WORDS.get(c.source, c.source),
            canary_words(settings),
            switch_history(conn, c.name, HISTORY),
        )
        for c in all_modes(conn, settings)
    ]
    now = datetime.now(UTC)
    return templates.TemplateResponse(
        request,
        "capabilities.html",
        {
            "page": "capabilities",
            "title": "Capabilities",
            "filters": PageFilters(),
            "query": "",
            "window": Window(now, now),
            "as_of": None,
            "capabilities": rows,
            "modes": MODES,
            "mode_words": MODE_WORDS,
            "history_shown": HISTORY,
            "token_required": settings.server.api_token is not None,
        },
    )
