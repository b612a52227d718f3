"""How soon `anomaly detect` tells a large step in daily and hourly totals, and at what noise.

Requests per day (a quarter as many at weekends) and per hour (a daily
swing, fewer at weekends), Poisson counts around a few thousand, 400
points each, twenty seeds: a step to ``1 + change`` times the level at a
random point of the last 150, and the points from the step to the first
level shift raised its way within 30 points (the delay; missed beyond).
False alarms are every alarm on the same series without the step. For the
CUSUM's clip on z-scores of 4 (the CI series' tuning) and of the spike bar
(8, `tuning.for_any_metric`): points far out count more, so a large step is
told sooner.

    python -m benchmarks.step_delay
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from controltower.anomaly.detection import detect
from controltower.anomaly.model import Point
from controltower.anomaly.tuning import for_any_metric

T0 = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
POINTS, SEEDS = 400, 20
CHANGES = (-0.9, -0.5, 1.0)
CLIPS = (4.0, 8.0)


def _series(step: timedelta, rng: np.random.Generator) -> tuple[list[datetime], np.ndarray]:
    stamps = [T0 + step * i for i in range(POINTS)]
    weekend = np.array([0.25 if t.weekday() >= 5 else 1.0 for t in stamps])
    hours = np.array([t.hour for t in stamps])
    swing = 1 + 0.5 * np.sin(2 * np.pi * (hours - 9) / 24) if step < timedelta(days=1) else 1.0
    return stamps, rng.poisson(3000 * weekend * swing).astype(float)


def _points(stamps: list[datetime], values: np.ndarray) -> list[Point]:
    return [Point(t, float(v)) for t, v in zip(stamps, values, strict=True)]


def main() -> None:
    """One JSON line per resolution, clip and change."""
    for name, step in (("daily", timedelta(days=1)), ("hourly", timedelta(hours=1))):
        for clip in CLIPS:
            tuning = replace(for_any_metric(), clip=clip)
            false = 0
            delays: dict[float, list[int]] = {c: [] for c in CHANGES}
            for seed in range(SEEDS):
                rng = np.random.default_rng(seed)
                stamps, clean = _series(step, rng)
                false += len(detect(_points(stamps, clean), tuning))
                for change in CHANGES:
                    at = int(rng.integers(POINTS - 150, POINTS - 40))
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
            print(
                json.dumps(
                    {
                        "series": name,
                        "clip": clip,
                        "false_alarms": f"{false} in {SEEDS * POINTS} points",
                        **{
                            f"step_{change:+.0%}": {
                                "found": f"{len(d)}/{SEEDS}",
                                "delay_median": float(np.median(d)) if d else None,
                            }
                            for change, d in delays.items()
                        },
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
