"""How serious an anomaly is, from its size against normal."""

from __future__ import annotations

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


def rate_severity(expected: float, observed: float) -> Severity:
    """Critical when the failure rate rose by 50 points, warning from 20."""
    rise = observed - expected
    if rise >= CRITICAL_RATE:
        return "critical"
    if rise >= WARNING_RATE:
        return "warning"
    return "info"
