"""An anomaly in words: its title and detail, the subject its alert is about, and the cause it
shares with other repositories, for the overview, the charts, the alerts and their messages.
"""

from __future__ import annotations

from datetime import datetime

from controltower.domain.wording import BUSY_UNIT, counted
from controltower.store.anomalies import StoredAnomaly

STOPPING = ("runs", "cost")  # totals whose fall to nothing is a workflow that stopped


def duration_words(seconds: float) -> str:
    """Seconds in the largest unit that fits: "39 s", "2.9 min", "1.4 h", "14.0 d"."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def amount_words(value: float, unit: str) -> str:
    """A value of an anomaly's series in words, with its unit: "2.9 min", "45% failed",
    "1 run a day", "2.5 runs a week", "$1.20 a day", "$2.40 a day it ran" (a total of the
    days with runs alone, ``BUSY_UNIT``)."""
    busy = unit.endswith(BUSY_UNIT)
    unit = unit.removesuffix(BUSY_UNIT)
    per = " a week" if unit.endswith(" per week") else " a day"
    per += " it ran" if busy else ""
    base = unit.removesuffix(" per week")
    if base == "s":
        return duration_words(value)
    if base == "failed":
        return f"{value:.0%} failed"
    if base == "runs":
        return f"{value:.3g} {'run' if value == 1 else 'runs'}{per}"
    if base == "USD":
        return f"${value:,.2f}{per}"
    return f"{value:.4g} {unit}"


def _against(observed: float, expected: float) -> str:
    """How far from normal, relative: "+80%", or "12 times normal" for ten times or more."""
    if not expected:
        return ""
    ratio = observed / expected
    if ratio >= 10:
        return f" ({ratio:,.0f} times normal)"
    return f" ({ratio - 1:+.0%})"


def anomaly_words(a: StoredAnomaly) -> tuple[str, str]:
    """What changed and by how much, in words: the title and the detail of an anomaly.

    A fall of runs or cost to nothing (a stop) is called one, with the day
    it began.
    """
    observed, expected = amount_words(a.observed, a.unit), amount_words(a.expected, a.unit)
    detail = f"{observed} against a normal {expected}{_against(a.observed, a.expected)}"
    what = a.kind.replace("_", " ")
    if _stopped(a):
        what = "stop"
        detail = f"none since {a.started_at:%Y-%m-%d}, against a normal {expected}"
    if a.usd_per_month:
        detail += f"; {a.usd_per_month:+,.0f} USD a month"
    trigger = a.trigger or {}
    if shared := trigger.get("shared_with"):
        count = int(trigger.get("shared_repositories", 1))
        named = shared + (", …" if count > len(shared.split(", ")) else "")
        within = trigger.get("shared_within", "3 h")
        detail += (
            f"; also in {counted(count, 'other repository', 'other repositories')} within"
            f" {within} ({named}): likely a cause outside the repository"
        )
    return f"{what} in {METRIC_WORDS.get(a.metric, a.metric)} of {a.series}", detail


def shared_group(a: StoredAnomaly) -> str | None:
    """The cause an anomaly shares with other repositories, named for a message's heading
    (the same for every anomaly of one cluster), or ``None``."""
    trigger = a.trigger or {}
    since = trigger.get("shared_since")
    if not trigger.get("shared_with") or not since:
        return None
    way = "rise" if a.observed > a.expected else "fall"
    began = datetime.fromisoformat(since)
    return (
        f"{METRIC_WORDS.get(a.metric, a.metric)} {way} in several repositories"
        f" from {began:%Y-%m-%d %H:%M} UTC, likely one cause outside them"
    )


# The series' metrics as a title names them.
METRIC_WORDS = {
    "duration": "duration",
    "job_duration": "job duration",
    "queue": "queue time",
    "failures": "failures",
    "cost": "cost",
    "runs": "runs",
}


def _stopped(a: StoredAnomaly) -> bool:
    """Whether ``a`` is a fall of runs or cost to nothing: a workflow that stopped."""
    return a.kind == "level_shift" and a.metric in STOPPING and a.observed == 0 < a.expected


def anomaly_subject(a: StoredAnomaly) -> str:
    """What an anomaly's alert is about, whatever its figures: the series, the metric and the
    change. A shift and a drift are one change, a rise or a fall: a change told as a level
    shift when it crossed is often judged a drift once more points are in (a second look at
    its kind), which is the same condition, not a new one; a fall after a rise (a recovery)
    is another. A stop, a spike up or down and a failure burst are changes of their own."""
    up = a.observed >= a.expected
    if _stopped(a):
        change = "stop"
    elif a.kind in ("level_shift", "drift"):
        change = "rise" if up else "fall"
    elif a.kind == "spike":
        change = "spike up" if up else "spike down"
    else:
        change = a.kind.replace("_", " ")
    return f"{a.series}|{a.metric}|{change}"
