"""What sporadic-spike judging would raise on the database's mostly-zero series, as stored.

``anomaly detect`` judges a series that is zero at most points for spikes
against its usual peak; the CI series' recorder and ``anomaly evaluate``
leave such series out. This counts, per metric, the mostly-zero series of the
configured database (``CONTROLTOWER_DATABASE_URL``), their points, and the
alarms the sporadic judging raises on them with nothing injected: on CI
series (a repository built a few weeks a year) every one of them is an alarm
a reader would have to look at.

    CONTROLTOWER_DATABASE_URL=sqlite:////tmp/ds-NAME.db python -m benchmarks.sporadic_stored
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import numpy as np

from benchmarks.stored_series import stored_series
from controltower.anomaly.detection import detect, sporadic_series
from controltower.anomaly.tuning import Tuning, for_series


def main() -> None:
    """One JSON document: series, points and alarms per metric."""
    series, points = Counter[str](), Counter[str]()
    alarms, critical = Counter[str](), Counter[str]()
    for s in stored_series():
        values = np.array([p.value for p in s.points], dtype=float)
        if s.outcomes or not sporadic_series(values):
            continue
        tuning = replace(for_series(Tuning(), s.days_per_point, s.metric), sporadic=True)
        found = detect(s.points, tuning, outcomes=False)
        series[s.label] += 1
        points[s.label] += len(values)
        alarms[s.label] += len(found)
        critical[s.label] += sum(a.severity == "critical" for a in found)
    print(
        json.dumps(
            {
                metric: {
                    "series": series[metric],
                    "points": points[metric],
                    "alarms": alarms[metric],
                    "critical": critical[metric],
                    "alarms_per_1000_points": round(1000 * alarms[metric] / points[metric], 2),
                }
                for metric in sorted(series)
            }
        )
    )


if __name__ == "__main__":
    main()
