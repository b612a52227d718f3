"""Whether `anomaly detect` tells an incident in a few months of daily totals low at weekends.

Requests per day for 90, 120 or 200 days, Monday first: Poisson counts around
3,000 on weekdays, a quarter of that at weekends (``weekly``) or every day
alike (``flat``), with day-to-day noise of 5 % (lognormal). An incident is
three days at a fifth or at half the usual count, from a random day of the
last 40 (ending at least 10 days before the end); it is found when an
alarm its way (down) is raised from its first day to the third after its
last. False alarms are every alarm on the same series without it.

``anomaly detect`` judges whether to remove a rhythm once ``rhythm_min``
points are known (``Tuning.rhythm_min``); until then a weekend is far below
a weekday's level and the series' own tail reaches that far, so a fall
within that reach is not told. Each row is one value of it.

``--seeds FIRST-LAST`` picks the seeds (default 0-19, on which the setting
was chosen; 20-39 are held out). ``--tail-as-judged`` takes a spike's tail
from the departures as each point was judged (``Baseline.center``), as
before it was taken with the rhythm chosen at the spike
(``Baseline.as_chosen_at``): the weekends judged before the rhythm was
chosen stay in the tail for ``tail_window`` points.

    python -m benchmarks.short_rhythm [--seeds 20-39] [--tail-as-judged]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from controltower.anomaly import baseline
from controltower.anomaly.detection import detect
from controltower.anomaly.model import Point
from controltower.anomaly.tuning import for_any_metric

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
LENGTHS = (90, 120, 200)
RHYTHMS = {"weekly": 0.25, "flat": 1.0}  # the weekend's share of a weekday's count
FALLS = (0.2, 0.5)  # the incident's share of the usual count
INCIDENT_DAYS = 3
MINIMA = (100, 70, 50, 35)


def _series(
    days: int, weekend: float, rng: np.random.Generator
) -> tuple[list[datetime], np.ndarray]:
    stamps = [T0 + timedelta(days=i) for i in range(days)]
    share = np.array([weekend if t.weekday() >= 5 else 1.0 for t in stamps])
    noise = rng.lognormal(0.0, 0.05, days)
    return stamps, rng.poisson(3000 * share * noise).astype(float)


def _points(stamps: list[datetime], values: np.ndarray) -> list[Point]:
    return [Point(t, float(v)) for t, v in zip(stamps, values, strict=True)]


def main(argv: list[str] | None = None) -> None:
    """One JSON line per length, rhythm and ``rhythm_min``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.short_rhythm")
    parser.add_argument("--seeds", default="0-19", help="FIRST-LAST (default 0-19)")
    parser.add_argument("--tail-as-judged", action="store_true")
    args = parser.parse_args(argv)
    if args.tail_as_judged:
        baseline.Baseline.as_chosen_at = lambda self, at: self.center  # type: ignore[method-assign]
    first, last = (int(s) for s in args.seeds.split("-"))
    seeds = range(first, last + 1)
    for days in LENGTHS:
        for rhythm, weekend in RHYTHMS.items():
            for least in MINIMA:
                tuning = replace(for_any_metric(), rhythm_min=least)
                false_alarms = 0
                found = dict.fromkeys(FALLS, 0)
                for seed in seeds:
                    rng = np.random.default_rng(seed)
                    stamps, clean = _series(days, weekend, rng)
                    false_alarms += len(detect(_points(stamps, clean), tuning))
                    for fall in FALLS:
                        at = int(rng.integers(days - 40, days - 10 - INCIDENT_DAYS + 1))
                        changed = clean.copy()
                        changed[at : at + INCIDENT_DAYS] *= fall
                        alarms = detect(_points(stamps, changed), tuning)
                        found[fall] += any(
                            a.change < 0 and at <= a.index <= at + INCIDENT_DAYS + 2 for a in alarms
                        )
                row = {
                    "days": days,
                    "rhythm": rhythm,
                    "rhythm_min": least,
                    "tail": "as judged" if args.tail_as_judged else "as chosen",
                    "series": len(seeds),
                    "false_alarms": false_alarms,
                    **{f"found_to_{fall}": found[fall] for fall in FALLS},
                }
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
