"""The dashboard's charts: plotly figures (data and layout) built from figures, and anomaly marks.

Pure: each function takes what a page computed and returns the JSON figure
that ``dashboard.js`` draws. Anomalies are marked where they started, on the
chart of the metric they concern (duration, failures, cost): a dotted line
coloured by severity, and a marker whose hover text says what changed, so the
colour is never the only cue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from controltower.store.anomalies import StoredAnomaly
from controltower.telemetry.anomaly_words import anomaly_words
from controltower.telemetry.metrics import GroupMetrics, Window

SEVERITY_COLOURS = {"critical": "#cf222e", "warning": "#bf8700", "info": "#0969da"}
# The chart each metric's anomalies are marked on.
CHART_METRICS = {
    "success": frozenset({"failures"}),
    "duration": frozenset({"duration", "job_duration"}),
    "cost": frozenset({"cost"}),
}


def trend_charts(
    days: list[GroupMetrics], window: Window | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Success rate and duration (p50, p95) by day, over the whole ``window`` when given.

    The axis spans the window, not only the days with runs: runs that stopped (a workflow no
    longer built) show as the empty end they are, and the pages' charts share one axis. A day
    without runs between two with runs is a gap in the lines (a null point, never joined
    across), not a line drawn through it as if the days around it told what it was.
    """
    every = _every_day(days)
    x = list(every)
    axis: dict[str, Any] = {"type": "date", "range": window_range(window)} if window else {}
    success: dict[str, Any] = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "success rate",
                "x": x,
                "y": [d.current.success_rate if d else None for d in every.values()],
                "connectgaps": False,
            }
        ],
        "layout": {"yaxis": {"tickformat": ".0%", "range": [0, 1.05]}, "xaxis": dict(axis)},
    }
    p50 = [minutes(d.current.duration_p50) if d else None for d in every.values()]
    p95 = [minutes(d.current.duration_p95) if d else None for d in every.values()]
    # with gaps, a day alone between two empty ones is a point: markers keep it in sight
    lines = {"type": "scatter", "mode": "lines+markers", "marker": {"size": 4}, "x": x}
    duration: dict[str, Any] = {
        "data": [
            {**lines, "name": "p50", "y": p50, "connectgaps": False},
            {**lines, "name": "p95", "y": p95, "connectgaps": False},
        ],
        "layout": {"yaxis": {"title": {"text": "minutes"}}, "xaxis": dict(axis)},
    }
    highest = [v for v in p95 if v is not None]  # a day's p95 is at least its p50
    return success, _within_scale(duration, highest, "yaxis", ("day", "days"))


def _every_day(days: list[GroupMetrics]) -> dict[str, GroupMetrics | None]:
    """Each day (``YYYY-MM-DD``) from the first with runs to the last, with its figures or None
    where it had no runs."""
    if not days:
        return {}
    known = {d.group: d for d in days}
    first, last = date.fromisoformat(days[0].group), date.fromisoformat(days[-1].group)
    every = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return {day.isoformat(): known.get(day.isoformat()) for day in every}


def window_range(window: Window) -> list[str]:
    """The x range of the window's days (UTC), half a day beyond each end so no marker is cut."""
    half = timedelta(hours=12)
    first = datetime.combine(window.start.date(), time(), UTC) - half
    last = datetime.combine((window.end - timedelta(microseconds=1)).date(), time(), UTC) + half
    return [first.strftime("%Y-%m-%d %H:%M"), last.strftime("%Y-%m-%d %H:%M")]


def histogram(seconds: list[float]) -> dict[str, Any]:
    """The distribution of durations, in minutes; runs far beyond the rest are counted, not
    drawn (one run stuck for days would leave every other in the first bin)."""
    values = [m for m in (minutes(v) for v in seconds) if m is not None]
    top = _scale_top(values)
    shown = values if top is None else [v for v in values if v <= top]
    figure = {
        "data": [{"type": "histogram", "name": "runs", "x": shown, "nbinsx": 40}],
        "layout": {"xaxis": {"title": {"text": "minutes"}}, "yaxis": {"title": {"text": "runs"}}},
    }
    if top is not None:
        beyond = [v for v in values if v > top]
        _note(
            figure,
            f"{len(beyond)} longer {'run' if len(beyond) == 1 else 'runs'}, up to "
            f"{max(beyond):,.0f} min, not drawn",
        )
    return figure


# A value beyond OUTLIER times the 90th percentile of a chart's values is off its scale.
OUTLIER = 4.0
# The height in pixels of the band at the top of a plot where anomalies are marked.
MARK_BAND_PX = 18


def _scale_top(values: Sequence[float]) -> float | None:
    """Where the scale should end when a few values lie far beyond the rest (None: draw all)."""
    if len(values) < 5:
        return None
    ordered = sorted(values)
    usual = ordered[int(0.9 * (len(ordered) - 1))]
    if usual <= 0 or ordered[-1] <= OUTLIER * usual:
        return None
    return max(v for v in ordered if v <= OUTLIER * usual) * 1.1


def _within_scale(
    figure: dict[str, Any], values: Sequence[float], axis: str, what: tuple[str, str]
) -> dict[str, Any]:
    """``figure`` with its ``axis`` ending before values far beyond the rest, and a note saying
    how many points (``what``) lie above it and how high they go."""
    top = _scale_top(values)
    if top is None:
        return figure
    layout = figure["layout"]
    layout[axis] = {**layout.get(axis, {}), "range": [0, top]}
    beyond = [v for v in values if v > top]
    words = what[0] if len(beyond) == 1 else what[1]
    _note(figure, f"{len(beyond)} {words} off the scale, up to {max(beyond):,.0f} min")
    return figure


def _note(figure: dict[str, Any], text: str) -> None:
    """A line of text in the plot's top right corner (inside it: above, the legend may be),
    below the band where anomalies are marked (``with_anomalies``), which it would hide."""
    figure["layout"].setdefault("annotations", []).append(
        {
            "text": text,
            "xref": "paper",
            "yref": "paper",
            "x": 1,
            "y": 1,
            "xanchor": "right",
            "yanchor": "top",
            "yshift": -MARK_BAND_PX,
            "showarrow": False,
            "bgcolor": "rgba(255,255,255,0.85)",
            "font": {"size": 11, "color": "#57606a"},
        }
    )


# The groups a timeline's bars fall in, with their colours, in legend order.
CRITICAL_PATH = (
    ("critical path", "#bc4c00"),
    ("other", "#0969da"),
    ("running", "#8250df"),
    ("end not known", "#8c959f"),
)
STEP_OUTCOMES = (("failed", "#cf222e"), ("passed", "#1a7f37"), ("other", "#8c959f"))


def timeline(
    bars: list[tuple[str, datetime | None, datetime | None, str, str | None]],
    groups: Sequence[tuple[str, str]] = CRITICAL_PATH,
) -> dict[str, Any]:
    """A Gantt chart: one bar per job (or step) from its start to its end.

    Each bar names its group (``groups``: the critical path and the rest for
    jobs, the outcome for steps); each group is its own trace, so the legend
    names it and its colour is not the only way to tell them apart (the
    table says it too). One not started yet keeps its row, with no bar.
    """
    names = _unique([bar[0] for bar in bars])
    ran = [
        (n, b) for n, b in zip(names, bars, strict=True) if b[1] is not None and b[2] is not None
    ]
    traces = []
    for label, colour in groups:
        chosen = [(n, b) for n, b in ran if b[3] == label]
        if not chosen:
            continue
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": label,
                "y": [n for n, _ in chosen],
                "base": [b[1].isoformat() for _, b in chosen if b[1]],
                "x": [
                    max(0.0, (b[2] - b[1]).total_seconds()) * 1000
                    for _, b in chosen
                    if b[1] and b[2]
                ],
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
            # a time tick per this many pixels of width (dashboard.js): labels lie flat and whole
            "meta": {"pxPerTick": PX_PER_TICK},
            "yaxis": {
                "autorange": "reversed",
                "type": "category",
                "categoryorder": "array",  # in the order they ran, whatever their group
                "categoryarray": names,
                "tickmode": "array",
                "tickvals": names,
                "ticktext": [_short(n) for n in names],  # in full in the hover and the table
            },
            "height": max(200, 28 * len(names) + 90),
        },
    }


LABEL_CHARACTERS = 32
# The width in pixels a timeline's time tick is given: room for "06:30:30" and its neighbours'
# gaps, after the job names have taken their share of a phone's 390 px
PX_PER_TICK = 120


def _short(name: str) -> str:
    """A bar's label cut to ``LABEL_CHARACTERS``, so the bars keep most of a narrow chart."""
    return name if len(name) <= LABEL_CHARACTERS else name[: LABEL_CHARACTERS - 1] + "…"


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
