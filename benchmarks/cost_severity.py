"""Cost anomalies of a database's series by severity, with and without the dollar bands.

Every cost anomaly the detectors find in the stored series (not only those
going on now), counted by severity as judged by the size against normal
alone and as ``findings`` reports it with the default bands
(``severity.CostBands``: at most info under 50 USD a month, at most warning
under 500).

    CONTROLTOWER_DATABASE_URL=sqlite:///PATH python -m benchmarks.cost_severity
"""

from __future__ import annotations

from collections import Counter
from typing import get_args

from benchmarks.stored_series import stored_series
from controltower.anomaly.findings import findings
from controltower.anomaly.model import Severity
from controltower.anomaly.severity import CostBands

SEVERITIES: tuple[Severity, ...] = get_args(Severity)[::-1]


def main() -> None:
    """Print one markdown row per way of judging severity."""
    series = stored_series(["cost"])
    print(f"{len(series)} cost series\n")
    print("| severity by | " + " | ".join(SEVERITIES) + " |")
    print("|---|---:|---:|---:|")
    for label, bands in (("size against normal", CostBands(0, 0)), ("dollars too", CostBands())):
        counts = Counter(f.anomaly.severity for f in findings(series, bands=bands))
        print(f"| {label} | " + " | ".join(str(counts[s]) for s in SEVERITIES) + " |")


if __name__ == "__main__":
    main()
