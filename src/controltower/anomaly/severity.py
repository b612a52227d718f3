"""How serious an anomaly is, from its size against normal (and for cost, in dollars)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from controltower.anomaly.model import Severity

# Relative change of a metric (observed against expected) at which severity rises.
WARNING_RATIO = 0.25
CRITICAL_RATIO = 1.0
# Rise of a failure rate (absolute, 0 to 1) at which severity rises.
WARNING_RATE = 0.2
CRITICAL_RATE = 0.5


def metric_severity(expected: float, observed: float) -> Severity:
    """Critical when a metric doubles (or halves to nothing), warning from a quarter."""
    change = abs(observed - expected)
    relative = change / abs(expected) if expected else float("inf")
    if relative >= CRITICAL_RATIO:
        return "critical"
    if relative >= WARNING_RATIO:
        return "warning"
    return "info"


SPIKE_CRITICAL_RATIO = 2.0
"""A single point is critical from three times normal (or a third of it), either way."""


def ratio_size(expected: float, observed: float) -> float:
    """How far ``observed`` is from a positive ``expected`` as a ratio, either way: 1.0 for
    double or half, infinite for zero."""
    if observed <= 0.0:
        return math.inf
    return max(observed / expected, expected / observed) - 1.0


def ratio_severity(expected: float, observed: float, *, spike: bool = False) -> Severity:
    """The severity of a metric whose meaning is not known (``Tuning.both_ways``): a fall to
    half is as severe as a doubling, a fall to nothing (an outage) is critical; a single
    point (``spike``) is critical from three times normal or a third of it."""
    if expected <= 0.0 or observed < 0.0:
        return metric_severity(expected, observed)
    size = ratio_size(expected, observed)
    if size >= (SPIKE_CRITICAL_RATIO if spike else CRITICAL_RATIO):
        return "critical"
    if size >= WARNING_RATIO:
        return "warning"
    return "info"


def peak_severity(times_peak: float, bar: float) -> Severity:
    """A mostly-zero series's spike, ``times_peak`` its usual peak: critical from twice ``bar``."""
    return "critical" if times_peak >= 2 * bar else "warning"


def rate_severity(expected: float, observed: float) -> Severity:
    """Critical when the failure rate rose by 50 points, warning from 20."""
    rise = observed - expected
    if rise >= CRITICAL_RATE:
        return "critical"
    if rise >= WARNING_RATE:
        return "warning"
    return "info"


def at_most(severity: Severity, most: Severity) -> Severity:
    """``severity`` lowered to ``most`` where it is above it.

    A spike of a CI series is one run, or one day's or week's total: over
    by the time it is told, and no outage on its own (a runner pool that is
    down shows as many runs waiting, a lasting change). By default it is at
    most a warning (``AnomalySettings.spike_max_severity``): to the team's
    channel, never a page.
    """
    return most if _RANK[severity] > _RANK[most] else severity


def activity_severity(severity: Severity, change: float) -> Severity:
    """A change in how often a workflow runs: a rise is information (more builds are no
    incident, however many more), a fall keeps ``severity`` (fewer, or none: a stop)."""
    return "info" if change > 0 else severity


@dataclass(frozen=True, slots=True)
class CostBands:
    """The dollars a cost anomaly must reach to be a warning, and to be critical."""

    warning_usd: float = 50.0
    critical_usd: float = 500.0


_RANK: dict[Severity, int] = {"info": 0, "warning": 1, "critical": 2}


def cost_severity(severity: Severity, usd: float, bands: CostBands) -> Severity:
    """``severity`` lowered to what ``usd`` (its size, either way) reaches in ``bands``.

    Doubling a cost of a few cents a day is no emergency: the relative size
    alone would make it critical and page someone for a few dollars a month.
    """
    size = abs(usd)
    by_dollars: Severity = (
        "critical"
        if size >= bands.critical_usd
        else "warning"
        if size >= bands.warning_usd
        else "info"
    )
    return by_dollars if _RANK[by_dollars] < _RANK[severity] else severity


@dataclass(frozen=True, slots=True)
class TimeBands:
    """The seconds a change of a duration or wait must reach to be a warning, and critical."""

    warning_seconds: float = 30.0
    critical_seconds: float = 300.0


def time_severity(severity: Severity, seconds: float, bands: TimeBands) -> Severity:
    """``severity`` lowered to what ``seconds`` (the change, either way) reaches in ``bands``.

    A queue that went from two seconds to three has grown by half, and a job
    of ten seconds that takes twenty has doubled: by their size against
    normal a warning and a page, while nobody waits noticeably longer.
    """
    size = abs(seconds)
    by_seconds: Severity = (
        "critical"
        if size >= bands.critical_seconds
        else "warning"
        if size >= bands.warning_seconds
        else "info"
    )
    return by_seconds if _RANK[by_seconds] < _RANK[severity] else severity
