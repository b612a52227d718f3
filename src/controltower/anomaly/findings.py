"""An anomaly told in the terms of its series: what changed, the likely trigger, the cost.

The likely trigger is read from the runs around the anomaly's start: the
first run of a change is the first one after a given commit; if the runner
type there is not the one most used before, a new runner type is named too.
For a series of cost per day or per week, a lasting change is priced per month
(30 days), and a cost anomaly is only as severe as its dollars say
(``severity.cost_severity``: a lasting change by its dollars a month, a
spike by that day's or week's extra). A change of a duration or a queue time
is only as severe as its seconds say (``severity.time_severity``). A rise in
runs per day or week is information only (``severity.activity_severity``):
more builds are no incident. A spike, one run or one day's total, is at
most a warning by default (``severity.at_most``). The same change in several repositories at once
points outside them (``shared``).
Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from controltower.anomaly.detection import detect
from controltower.anomaly.model import Anomaly, Series, Severity, Told
from controltower.anomaly.severity import (
    CostBands,
    TimeBands,
    activity_severity,
    at_most,
    cost_severity,
    time_severity,
)
from controltower.anomaly.shared import shared_causes
from controltower.anomaly.tuning import DAYS_PER_MONTH, TIMED, Tuning, for_series
from controltower.domain.wording import BUSY_UNIT

_LOOKBACK = 30


@dataclass(frozen=True, slots=True)
class Finding:
    """One anomaly of one series, with its likely trigger and monthly cost impact."""

    series: str
    metric: str
    unit: str
    anomaly: Anomaly
    trigger: dict[str, str] | None
    usd_per_month: float | None

    def as_dict(self) -> dict[str, Any]:
        """A plain mapping for JSON documents."""
        return {
            "series": self.series,
            "metric": self.metric,
            "unit": self.unit,
            **self.anomaly.as_dict(),
            "trigger": self.trigger,
            "usd_per_month": None if self.usd_per_month is None else round(self.usd_per_month, 2),
        }


def likely_trigger(series: Series, anomaly: Anomaly) -> dict[str, str] | None:
    """The commit built when the anomaly began, or a new runner type or workflow file by its alarm.

    A runner type other than the one most used before, appearing between the
    start and the alarm, is the likelier cause; the commit named is then the
    first built on it. Else the first commit built in that stretch whose push
    changed workflow files (``workflow_files``, from GitHub's push
    deliveries; for daily or weekly totals, the first such push of a day or
    week, and for a stop from the day before its first zero, the day of the
    last run), else the commit built at the start.
    """
    if not series.context:
        return None
    start = next(
        (i for i, p in enumerate(series.points) if p.timestamp >= anomaly.start), anomaly.index
    )
    before = [c.get("runner") for c in series.context[max(0, start - _LOOKBACK) : start]]
    usual = Counter(r for r in before if r).most_common(1)
    trigger: dict[str, str] = {}
    for context in series.context[start : anomaly.index + 1]:
        runner = context.get("runner")
        if runner and usual and usual[0][0] != runner:
            trigger = {"new_runner": str(runner), "previous_runner": str(usual[0][0])}
            if context.get("commit"):
                trigger["commit"] = str(context["commit"])
            if context.get("workflow_files"):
                trigger["workflow_files"] = str(context["workflow_files"])
            return trigger
    # a stop: the change that ended the runs may have come the day of the last one
    changed_from = start - 1 if anomaly.details.get("stopped") and start > 0 else start
    for context in series.context[changed_from : anomaly.index + 1]:
        if context.get("workflow_files") and context.get("commit"):
            return {
                "workflow_files": str(context["workflow_files"]),
                "commit": str(context["commit"]),
            }
    commit = series.context[min(start, len(series.context) - 1)].get("commit")
    return {"commit": str(commit)} if commit else None


def monthly_cost(series: Series, anomaly: Anomaly) -> float | None:
    """What a lasting change of cost per day (or week) adds or saves in a month of 30 days;
    a change of the cost of busy days (``details["busy"]``) on the share of days that were
    busy before it."""
    if series.metric != "cost" or anomaly.kind == "spike":
        return None
    share = float(anomaly.details.get("busy_share", 1.0))
    return anomaly.change * share * DAYS_PER_MONTH / (series.days_per_point or 1)


def unit_of(series: Series, anomaly: Anomaly) -> str:
    """The unit of an anomaly's expected and observed values: the series', or for a change
    of the busy points alone that unit ``BUSY_UNIT`` (what a day or week it ran came to)."""
    return series.unit + BUSY_UNIT if anomaly.details.get("busy") else series.unit


def findings(
    series: Sequence[Series],
    tuning: Tuning | None = None,
    bands: CostBands | None = None,
    times: TimeBands | None = None,
    told: Mapping[tuple[str, str], Collection[Told]] | None = None,
    spike_most: Severity = "warning",
) -> list[Finding]:
    """The anomalies of every series, explained, newest first.

    ``told``: per series and metric, the shifts and drifts an earlier pass told
    (``detection.detect``); ``spike_most``: the highest severity of a spike
    (``severity.at_most``).
    """
    bands = bands or CostBands()
    times = times or TimeBands()
    told = told or {}
    found = []
    for s in series:
        judged_with = for_series(tuning or Tuning(), s.days_per_point, s.metric)
        before = told.get((s.name, s.metric), ())
        for detected in detect(s.points, judged_with, outcomes=s.outcomes, told=before):
            per_month = monthly_cost(s, detected)
            anomaly = detected
            if s.metric == "cost":
                usd = detected.change if per_month is None else per_month
                anomaly = replace(detected, severity=cost_severity(detected.severity, usd, bands))
            elif s.metric in TIMED:
                severity = time_severity(detected.severity, detected.change, times)
                anomaly = replace(detected, severity=severity)
            elif s.metric == "runs":
                severity = activity_severity(detected.severity, detected.change)
                anomaly = replace(detected, severity=severity)
            if anomaly.kind == "spike":
                anomaly = replace(anomaly, severity=at_most(anomaly.severity, spike_most))
            found.append(
                Finding(
                    s.name,
                    s.metric,
                    unit_of(s, anomaly),
                    anomaly,
                    likely_trigger(s, anomaly),
                    per_month,
                )
            )
    return sorted(shared_causes(found, series), key=lambda f: f.anomaly.timestamp, reverse=True)
