"""What the detectors read and say: a series of points, and the anomalies found in it.

A series is any operational metric sampled over time (a run's duration, queue
time, cost per day, latency, CPU, request counts, error rates): timestamps
with one value each, oldest first. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Kind = Literal["spike", "level_shift", "drift", "failure_burst"]
Severity = Literal["info", "warning", "critical"]
Direction = Literal["up", "down", "both"]
KINDS: tuple[Kind, ...] = ("spike", "level_shift", "drift", "failure_burst")
LASTING: tuple[Kind, ...] = ("level_shift", "drift")  # the kinds of a lasting change
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
# A lasting change told before: when it was recognised (its alarm), and whether it was a rise.
Told = tuple[datetime, bool]


@dataclass(frozen=True, slots=True)
class Point:
    """One observation: when, and its value."""

    timestamp: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One departure from normal.

    ``start`` is when it began (for a shift, the estimated change point) and
    ``timestamp`` when it was recognised; ``expected`` is the robust baseline
    there and ``observed`` what was seen, so ``change`` and ``ratio`` say how
    large it is against normal. ``score`` is comparable within a kind: robust
    z-scores for spikes, shifts and drifts, ``-log10 p`` for failure bursts.
    """

    kind: Kind
    severity: Severity
    start: datetime
    timestamp: datetime
    expected: float
    observed: float
    score: float
    index: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def change(self) -> float:
        """Observed minus expected, in the series' unit."""
        return self.observed - self.expected

    @property
    def ratio(self) -> float | None:
        """Observed over expected (``None`` when normal is zero)."""
        return self.observed / self.expected if self.expected else None

    @property
    def told(self) -> Told:
        """What says the change was told before (``detection.detect``'s ``told``)."""
        return (self.timestamp, self.change > 0)

    def as_dict(self) -> dict[str, Any]:
        """A plain mapping for JSON documents."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "start": self.start.isoformat(),
            "timestamp": self.timestamp.isoformat(),
            "expected": round(self.expected, 6),
            "observed": round(self.observed, 6),
            "change": round(self.change, 6),
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "score": round(self.score, 3),
            **self.details,
        }


def sorted_points(points: Sequence[Point]) -> list[Point]:
    """The points oldest first (stable for equal timestamps)."""
    return sorted(points, key=lambda p: p.timestamp)


Metric = Literal["duration", "queue", "failures", "cost", "job_duration", "runs"]


@dataclass(frozen=True, slots=True)
class Series:
    """A named series from the store: one metric of one workflow, job or repository.

    ``context`` holds, per point, what could explain a change there (the
    commit built, the runner type); ``outcomes`` marks a series of 0 (passed)
    and 1 (failed) per run. ``days_per_point`` is 1 for a series of daily
    totals, 7 for weekly ones, and ``None`` for one point per run.
    """

    name: str
    metric: Metric
    unit: str
    points: list[Point]
    context: list[dict[str, str | None]] = field(default_factory=list)
    outcomes: bool = False
    days_per_point: int | None = None

    @property
    def label(self) -> str:
        """The metric, and "weekly" for weekly totals (how evaluations count series)."""
        return f"{self.metric} weekly" if self.days_per_point == 7 else self.metric
