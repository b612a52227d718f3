"""The stops the stored series of a database raise as they are, and where they fall.

Over every series of daily or weekly totals (cost, runs), with the default
tuning: how many alarms are stops (``details["stopped"]``), how many of
those are for good (nothing above zero after them: a workflow or repository
that stopped before the data ends), and how many of the rest begin between
20 December and 10 January (a year-end break).

    CONTROLTOWER_DATABASE_URL=sqlite:///PATH python -m benchmarks.stored_stops
"""

from __future__ import annotations

from collections import Counter

from benchmarks.stored_series import stored_series
from controltower.anomaly.detection import detect
from controltower.anomaly.tuning import Tuning, for_series


def main() -> None:
    """One markdown row per metric (daily or weekly)."""
    counts: dict[str, Counter[str]] = {}
    for s in stored_series(["cost", "runs"]):
        found = detect(s.points, for_series(Tuning(), s.days_per_point, s.metric))
        tally = counts.setdefault(s.label, Counter())
        tally["series"] += 1
        tally["alarms"] += len(found)
        for a in found:
            if not a.details.get("stopped"):
                continue
            tally["stops"] += 1
            if not any(p.value for p in s.points[a.index :]):
                tally["at the end"] += 1
            elif (a.start.month, a.start.day) >= (12, 20) or (a.start.month, a.start.day) <= (
                1,
                10,
            ):
                tally["year end"] += 1
    columns = ("count", "alarms", "stops", "of which for good", "of the rest, 20 Dec to 10 Jan")
    print("| series | " + " | ".join(columns) + " |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, t in sorted(counts.items()):
        print(
            f"| {label} | {t['series']} | {t['alarms']} | {t['stops']} | {t['at the end']} | "
            f"{t['year end']} |"
        )


if __name__ == "__main__":
    main()
