"""Cost, duration and queue-time anomalies of a database's series by severity, with and without
the bands.

Every such anomaly the detectors find in the stored series (not only those
going on now), counted by severity as judged by the size against normal
alone, with the default bands: for cost (``severity.CostBands``) at most
info under 50 USD a month, at most warning under 500; for durations and
queue times (``severity.TimeBands``) at most info under a change of 30
seconds, at most warning under 5 minutes; and as ``findings`` reports it by
default, a spike (one run, one day's total) at most a warning besides
(``severity.at_most``).

    CONTROLTOWER_DATABASE_URL=sqlite:///PATH python -m benchmarks.cost_severity
"""

from __future__ import annotations

from collections import Counter
from typing import get_args

from benchmarks.stored_series import stored_series
from controltower.anomaly.findings import findings
from controltower.anomaly.model import Metric, Severity
from controltower.anomaly.severity import CostBands, TimeBands

SEVERITIES: tuple[Severity, ...] = get_args(Severity)[::-1]
TIMED: list[Metric] = ["duration", "queue", "job_duration"]


def main() -> None:
    """Print one markdown row per kind of series and way of judging severity."""
    cost, timed = stored_series(["cost"]), stored_series(TIMED)
    print(f"{len(cost)} cost series, {len(timed)} duration and queue-time series\n")
    print("| series | severity by | " + " | ".join(SEVERITIES) + " |")
    print("|---|---|---:|---:|---:|")
    unbanded, zero = CostBands(0, 0), TimeBands(0, 0)
    for label, way, found in (
        ("cost", "size against normal", findings(cost, bands=unbanded, spike_most="critical")),
        ("cost", "dollars too", findings(cost, spike_most="critical")),
        ("cost", "a spike at most a warning", findings(cost)),
        (
            "duration, queue",
            "size against normal",
            findings(timed, times=zero, spike_most="critical"),
        ),
        ("duration, queue", "seconds too", findings(timed, spike_most="critical")),
        ("duration, queue", "a spike at most a warning", findings(timed)),
    ):
        counts = Counter(f.anomaly.severity for f in found)
        cells = " | ".join(str(counts[s]) for s in SEVERITIES)
        print(f"| {label} | {way} | {cells} |")


if __name__ == "__main__":
    main()
