"""How soon `anomaly detect` tells a large step in daily and hourly totals, and at what noise.

Requests per day (a quarter as many at weekends) and per hour (a daily
swing, fewer at weekends), Poisson counts around a few thousand, twenty
seeds: a step to ``1 + change`` times the level at a random point of the
last 150, and the points from the step to the first level shift raised its
way within 30 points (the delay; missed beyond; ``shift_or_drift`` counts a
drift its way too). False alarms are every
alarm on the same series without the step. For the CUSUM's clip on
z-scores of 4 (the CI series' tuning) and of the spike bar (8,
`tuning.for_any_metric`): points far out count more, so a large step is
told sooner. Daily and hourly series have 400 points (hourly: two
weekends, too few to learn a weekly rhythm from); ``hourly-8w`` has eight
weeks of hours, its false alarms counted apart in the first three weeks
(while the weekly rhythm is learnt) and after.

``--seeds FIRST-LAST`` picks the seeds (default 0-19, on which the settings
were chosen; 20-39 are held out). ``--runs-rhythm`` judges series whose
window spans days with the rhythm of runs (residuals against the trailing
median, ``baseline._seasons``), as before a series sampled every hour
learnt its rhythm from its level (``baseline._sampled_seasons``).

    python -m benchmarks.step_delay [--seeds 20-39] [--runs-rhythm]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from controltower.anomaly import baseline
from controltower.anomaly.detection import detect
from controltower.anomaly.model import Point
from controltower.anomaly.tuning import for_any_metric

T0 = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
CHANGES = (-0.9, -0.5, 1.0)
CLIPS = (4.0, 8.0)
# name, time between points, points, points of the first part (the weekly rhythm being learnt)
SERIES = (
    ("daily", timedelta(days=1), 400, 0),
    ("hourly", timedelta(hours=1), 400, 0),
    ("hourly-8w", timedelta(hours=1), 8 * 168, 3 * 168),
)


def _series(
    step: timedelta, points: int, rng: np.random.Generator
) -> tuple[list[datetime], np.ndarray]:
    stamps = [T0 + step * i for i in range(points)]
    weekend = np.array([0.25 if t.weekday() >= 5 else 1.0 for t in stamps])
    hours = np.array([t.hour for t in stamps])
    swing = 1 + 0.5 * np.sin(2 * np.pi * (hours - 9) / 24) if step < timedelta(days=1) else 1.0
    return stamps, rng.poisson(3000 * weekend * swing).astype(float)


def _points(stamps: list[datetime], values: np.ndarray) -> list[Point]:
    return [Point(t, float(v)) for t, v in zip(stamps, values, strict=True)]


def _runs_rhythm() -> None:
    """Series whose window spans a day or more take the rhythm of runs, as they once did."""
    level_rhythm = baseline.sampled_bucket

    def within_a_day(timestamps: Sequence[datetime], window: int) -> timedelta | None:
        if len(timestamps) > 1:
            gap = (timestamps[-1] - timestamps[0]) / (len(timestamps) - 1)
            if gap * window >= timedelta(days=1):
                return None
        return level_rhythm(timestamps, window)

    baseline.sampled_bucket = within_a_day


def main(argv: list[str] | None = None) -> None:
    """One JSON line per series, clip and change."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.step_delay")
    parser.add_argument("--seeds", default="0-19", help="FIRST-LAST (default 0-19)")
    parser.add_argument("--runs-rhythm", action="store_true")
    args = parser.parse_args(argv)
    first, last = (int(s) for s in args.seeds.split("-"))
    seeds = range(first, last + 1)
    if args.runs_rhythm:
        _runs_rhythm()
    for name, step, points, learning in SERIES:
        for clip in CLIPS:
            tuning = replace(for_any_metric(), clip=clip)
            early = late = 0
            delays: dict[float, list[int]] = {c: [] for c in CHANGES}
            told_any = dict.fromkeys(CHANGES, 0)  # a level shift or a drift its way
            for seed in seeds:
                rng = np.random.default_rng(seed)
                stamps, clean = _series(step, points, rng)
                alarms = [a.index for a in detect(_points(stamps, clean), tuning)]
                early += sum(i < learning for i in alarms)
                late += sum(i >= learning for i in alarms)
                for change in CHANGES:
                    at = int(rng.integers(points - 150, points - 40))
                    stepped = clean.copy()
                    stepped[at:] *= 1 + change
                    found = detect(_points(stamps, stepped), tuning)
                    told = [
                        a.index - at
                        for a in found
                        if a.kind == "level_shift"
                        and (a.change > 0) == (change > 0)
                        and at <= a.index <= at + 30
                    ]
                    if told:
                        delays[change].append(min(told))
                    told_any[change] += any(
                        a.kind in ("level_shift", "drift")
                        and (a.change > 0) == (change > 0)
                        and at <= a.index <= at + 30
                        for a in found
                    )
            false = {"false_alarms": f"{late} in {len(seeds) * (points - learning)} points"}
            if learning:
                false = {
                    "false_alarms_learning": f"{early} in {len(seeds) * learning} points",
                    "false_alarms_learnt": f"{late} in {len(seeds) * (points - learning)} points",
                }
            print(
                json.dumps(
                    {
                        "series": name,
                        "rhythm": "runs" if args.runs_rhythm else "level",
                        "seeds": args.seeds,
                        "clip": clip,
                        **false,
                        **{
                            f"step_{change:+.0%}": {
                                "found": f"{len(d)}/{len(seeds)}",
                                "delay_median": float(np.median(d)) if d else None,
                                "shift_or_drift": f"{told_any[change]}/{len(seeds)}",
                            }
                            for change, d in delays.items()
                        },
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
