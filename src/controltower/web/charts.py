"""The dashboard's charts: plotly figures (data and layout) built from figures, and anomaly marks.

Pure: each function takes what a page computed and returns the JSON figure
that ``dashboard.js`` draws. Anomalies are marked where they started, on the
chart of the metric they concern (duration, failures, cost): a dotted line
coloured by severity, and a marker whose hover text says what changed, so the
colour is never the only cue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from controltower.store.anomalies import StoredAnomaly
from controltower.telemetry.activity import anomaly_words
from controltower.telemetry.metrics import GroupMetrics

SEVERITY_COLOURS = {"critical": "#cf222e", "warning": "#bf8700", "info": "#0969da"}
# The chart each metric's anomalies are marked on.
CHART_METRICS = {
    "success": frozenset({"failures"}),
    "duration": frozenset({"duration", "job_duration"}),
    "cost": frozenset({"cost"}),
}


def trend_charts(days: list[GroupMetrics]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Success rate and duration (p50, p95) by day."""
    x = [d.group for d in days]
    success = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "success rate",
                "x": x,
                "y": [d.current.success_rate for d in days],
            }
        ],
        "layout": {"yaxis": {"tickformat": ".0%", "range": [0, 1.05]}},
    }
    duration = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "p50",
                "x": x,
                "y": [minutes(d.current.duration_p50) for d in days],
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "p95",
                "x": x,
                "y": [minutes(d.current.duration_p95) for d in days],
            },
        ],
        "layout": {"yaxis": {"title": {"text": "minutes"}}},
    }
    return success, duration


def histogram(seconds: list[float]) -> dict[str, Any]:
    """The distribution of durations, in minutes."""
    return {
        "data": [
            {"type": "histogram", "name": "runs", "x": [minutes(v) for v in seconds], "nbinsx": 40}
        ],
        "layout": {"xaxis": {"title": {"text": "minutes"}}, "yaxis": {"title": {"text": "runs"}}},
    }


def timeline(
    bars: list[tuple[str, datetime | None, datetime | None, bool, str | None]],
) -> dict[str, Any]:
    """A Gantt chart: one bar per job (or step) from its start to its end.

    Bars on the critical path form their own trace, so the legend names it and
    its colour is not the only way to tell them apart (the table says it too).
    """
    ran = [bar for bar in bars if bar[1] is not None and bar[2] is not None]
    names = _unique([bar[0] for bar in ran])
    traces = []
    for critical, label, colour in (
        (True, "critical path", "#bc4c00"),
        (False, "other", "#0969da"),
    ):
        chosen = [(n, b) for n, b in zip(names, ran, strict=True) if b[3] == critical]
        if not chosen:
            continue
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": label,
                "y": [n for n, _ in chosen],
                "base": [b[1].isoformat() for _, b in chosen if b[1]],
                "x": [(b[2] - b[1]).total_seconds() * 1000 for _, b in chosen if b[1] and b[2]],
                "customdata": [b[4] or "" for _, b in chosen],
                "hovertemplate": "%{y}: %{customdata}<extra></extra>",
                "marker": {"color": colour},
            }
        )
    return {
        "data": traces,
        "layout": {
            "barmode": "overlay",
            "xaxis": {"type": "date"},
            "yaxis": {
                "autorange": "reversed",
                "type": "category",
                "tickmode": "array",
                "tickvals": names,
                "ticktext": names,
            },
            "height": max(200, 28 * len(names) + 90),
        },
    }


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return result


def minutes(seconds: float | None) -> float | None:
    """Seconds as minutes, to the hundredth."""
    return None if seconds is None else round(seconds / 60, 2)


def with_anomalies(
    figure: dict[str, Any], anomalies: Iterable[StoredAnomaly], chart: str
) -> dict[str, Any]:
    """``figure`` with the anomalies of ``chart``'s metrics marked on its days (a new figure).

    Only anomalies that started on a day the chart shows are marked; the
    figure passed in is left as it was.
    """
    days = set(_days(figure))
    chosen = [
        a
        for a in anomalies
        if a.metric in CHART_METRICS[chart] and a.started_at.date().isoformat() in days
    ]
    if not chosen:
        return figure
    shapes = [_line(a) for a in chosen]
    marker = {
        "type": "scatter",
        "mode": "markers",
        "name": "anomaly",
        "x": [a.started_at.date().isoformat() for a in chosen],
        "y": [1] * len(chosen),
        "yaxis": "y2",
        "marker": {
            "symbol": "triangle-down",
            "size": 12,
            "color": [SEVERITY_COLOURS.get(a.severity, "#57606a") for a in chosen],
        },
        "text": [_hover(a) for a in chosen],
        "hovertemplate": "%{text}<extra></extra>",
    }
    layout = dict(figure.get("layout", {}))
    layout["shapes"] = [*layout.get("shapes", []), *shapes]
    layout["yaxis2"] = {"overlaying": "y", "range": [0, 1.05], "visible": False, "fixedrange": True}
    return {**figure, "data": [*figure["data"], marker], "layout": layout}


def _days(figure: dict[str, Any]) -> Sequence[str]:
    return [str(x)[:10] for trace in figure["data"] for x in trace.get("x", [])]


def _line(a: StoredAnomaly) -> dict[str, Any]:
    day = a.started_at.date().isoformat()
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": day,
        "x1": day,
        "y0": 0,
        "y1": 1,
        "line": {"color": SEVERITY_COLOURS.get(a.severity, "#57606a"), "dash": "dot", "width": 1},
    }


def _hover(a: StoredAnomaly) -> str:
    title, detail = anomaly_words(a)
    started: datetime = a.started_at
    return f"{a.severity}: {title}<br>{detail}<br>since {started:%Y-%m-%d %H:%M} UTC"
