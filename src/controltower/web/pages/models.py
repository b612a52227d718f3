"""The ``/models`` page: the registry of model versions and what each one's evaluation chose.

Every version, newest first, with what serves each figure; for the live
version (else the newest) its evaluation's pooled figures beside the
baselines', for runs and, where it has a job model, for jobs, and the figures
live accuracy demoted; then live accuracy itself (the overview's kept
view). Promote and roll back call the JSON API (``web/api/models.py``) from
``static/dashboard.js``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controltower.intelligence import registry
from controltower.intelligence.accuracy import DURATION_SHOWN, FAILURE_FIGURES, demotions
from controltower.intelligence.selection import PREDICTOR_WORDS
from controltower.telemetry.metrics import Window
from controltower.web.deps import ConnectionDep, ContainerDep
from controltower.web.pages.filters import PageFilters, templates
from controltower.web.pages.overview import live_accuracy_view

router = APIRouter(tags=["pages"], include_in_schema=False)
# The figures shown per section, and whether lower is better.
SECTIONS = {
    "outcome": (
        ("f1", False),
        ("auc", False),
        ("precision", False),
        ("recall", False),
        ("brier", True),
    ),
    "duration": (("mdape", True), ("within_20", False), ("coverage_80", None)),
}
# Live accuracy's sections: its attribute, heading, and figures shown.
LIVE_SECTIONS = (
    ("failure", "Failure of runs", FAILURE_FIGURES),
    ("duration", "Duration of successful runs", DURATION_SHOWN),
    ("job_failure", "Failure of jobs", FAILURE_FIGURES),
    ("job_duration", "Duration of successful jobs", DURATION_SHOWN),
)
FIGURE_WORDS = {
    "f1": "F1",
    "auc": "ROC AUC",
    "precision": "precision",
    "recall": "recall",
    "brier": "Brier",
    "mdape": "median abs. relative error",
    "within_20": "within ±20%",
    "coverage_80": "80% interval coverage",
}


def _margin(margin: dict[str, Any] | None) -> str | None:
    """The model's margin over the better baseline in words, with its 95% interval."""
    if margin is None:
        return None
    low, high = margin["low"], margin["high"]
    clear = "" if low > 0 or high < 0 else ", not clear"
    return (
        f"{margin['difference']:+.3f} against "
        f"{PREDICTOR_WORDS.get(margin['against'], margin['against'])} "
        f"(95%: {low:+.3f} to {high:+.3f}{clear})"
    )


def _rows(
    pooled: dict[str, dict[str, float | None]],
    figures: Any,
    margins: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Per figure: each predictor's value, the one best alone (none for coverage or a tie),
    and the model's margin over the better baseline where the report has one."""
    names = list(pooled)
    out = []
    for figure, low in figures:
        values = {name: pooled[name].get(figure) for name in names}
        known = {n: v for n, v in values.items() if v is not None}
        best = None
        if low is not None and known:
            top = (min if low else max)(known.values())
            leaders = [n for n, v in known.items() if v == top]
            best = leaders[0] if len(leaders) == 1 else None  # a tie has no best
        margin = _margin((margins or {}).get(figure))
        out.append(
            {"figure": FIGURE_WORDS[figure], "values": values, "best": best, "margin": margin}
        )
    return out


def _evaluation(info: registry.VersionInfo) -> dict[str, Any]:
    report = info.report
    sections = {
        section: {
            "predictors": list(report[section]["pooled"]),
            "rows": _rows(
                report[section]["pooled"],
                figures,
                report.get("margins", {}).get(section, {}).get("pooled"),
            ),
        }
        for section, figures in SECTIONS.items()
        if section in report
    }
    jobs = report.get("jobs")
    if jobs:
        pooled = jobs["outcome"]["pooled"]
        margins = jobs.get("margins", {}).get("outcome", {}).get("pooled")
        sections["jobs"] = {
            "predictors": list(pooled),
            "rows": _rows(pooled, SECTIONS["outcome"], margins),
        }
        timed = jobs["duration"]["pooled"]
        sections["jobs_duration"] = {
            "predictors": list(timed),
            "rows": _rows(
                timed,
                SECTIONS["duration"],
                jobs.get("margins", {}).get("duration", {}).get("pooled"),
            ),
        }
    return sections


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, conn: ConnectionDep, container: ContainerDep) -> HTMLResponse:
    """The registered versions, and the shown version's evaluation beside the baselines."""
    versions = registry.versions(conn)
    shown = next((v for v in versions if v.status == registry.LIVE), None) or (
        versions[0] if versions else None
    )
    now = datetime.now(UTC)
    return templates.TemplateResponse(
        request,
        "models.html",
        {
            "page": "models",
            "title": "Models",
            "filters": PageFilters(),
            "query": "",
            "window": Window(now, now),
            "as_of": None,
            "versions": versions,
            "rollback_to": registry.rollback_target(conn),
            "shown": shown,
            "evaluation": _evaluation(shown) if shown is not None else {},
            "test_runs": shown.report.get("test_runs") if shown is not None else None,
            "demoted": {d.figure: d.predictor for d in demotions(conn)},
            "accuracy": live_accuracy_view(container),
            "accuracy_days": container.settings.intelligence.accuracy_days,
            "live_sections": LIVE_SECTIONS,
            "figure_words": FIGURE_WORDS,
            "token_required": container.settings.server.api_token is not None,
        },
    )
