"""Sampled metrics with a daily and weekly rhythm: false alarms once it is learnt, and steps found.

Three metrics sampled every minute for 28 days (Monday first), as `anomaly
detect` gets them from a monitoring export: latency (a daily swing of
±50 % with lognormal noise), CPU in percent (a daily swing of ±25 points,
normal noise, bounded to 0 to 100) and requests per minute (Poisson, forty
times as many in the afternoon as at night, a quarter as many at weekends).
For each, over five seeds: the alarms raised on the clean series in the
first two weeks (while the rhythm is learnt) and in the last two (all
false), and whether a 40 % step up at a random minute of the last two weeks
is told as a level shift within 30 minutes of it. ``--trailing`` judges
the same series with the rhythm of runs (residuals against the trailing
median, ``baseline._seasons``) instead of the level's
(``baseline._sampled_seasons``), as before sampled series had their own.

    python -m benchmarks.sampled_rhythm [--trailing]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from controltower.anomaly import baseline
from controltower.anomaly.detection import detect
from controltower.anomaly.model import Point
from controltower.anomaly.tuning import for_any_metric

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
DAYS, SEEDS = 28, 5
STAMPS = [T0 + timedelta(minutes=i) for i in range(DAYS * 1440)]
HOURS = np.array([t.hour + t.minute / 60 for t in STAMPS])
WEEKEND = np.array([t.weekday() >= 5 for t in STAMPS])
LEARNT = 14 * 1440  # the index of the first point of the last two weeks


def latency(rng: np.random.Generator) -> np.ndarray:
    swing = 1 + 0.5 * np.sin(2 * np.pi * (HOURS - 9) / 24)
    return np.asarray(120 * swing * rng.lognormal(0, 0.1, len(STAMPS)))


def cpu(rng: np.random.Generator) -> np.ndarray:
    swing = 35 + 25 * np.sin(2 * np.pi * (HOURS - 9) / 24)
    return np.asarray(np.clip(swing + rng.normal(0, 4, len(STAMPS)), 0, 100))


def requests(rng: np.random.Generator) -> np.ndarray:
    busy = np.where(WEEKEND, 0.25, 1.0)
    rate = 50 + 2000 * np.exp(-(((HOURS - 14) / 4) ** 2)) * busy
    return rng.poisson(rate).astype(float)


METRICS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "latency": latency,
    "cpu": cpu,
    "requests": requests,
}


def _detect(values: np.ndarray) -> list[int]:
    points = [Point(t, float(v)) for t, v in zip(STAMPS, values, strict=True)]
    return [a.index for a in detect(points, for_any_metric())]


def _found(values: np.ndarray, at: int) -> bool:
    points = [Point(t, float(v)) for t, v in zip(STAMPS, values, strict=True)]
    found = detect(points, for_any_metric())
    return any(a.kind == "level_shift" and at <= a.index <= at + 30 for a in found)


def main() -> None:
    """One JSON line per metric."""
    if "--trailing" in sys.argv[1:]:
        baseline.sampled_bucket = lambda *_args, **_kwargs: None
    for name, make in METRICS.items():
        learning = learnt = found = 0
        for seed in range(SEEDS):
            rng = np.random.default_rng(seed)
            clean = make(rng)
            alarms = _detect(clean)
            learning += sum(i < LEARNT for i in alarms)
            learnt += sum(i >= LEARNT for i in alarms)
            at = int(rng.integers(LEARNT, len(STAMPS) - 1440))
            stepped = clean.copy()
            stepped[at:] *= 1.4
            found += _found(stepped, at)
        print(
            json.dumps(
                {
                    "metric": name,
                    "rhythm": "trailing" if "--trailing" in sys.argv[1:] else "level",
                    "false_alarms_per_day_first_two_weeks": round(learning / SEEDS / 14, 2),
                    "false_alarms_per_day_last_two_weeks": round(learnt / SEEDS / 14, 2),
                    "steps_found_within_30_min": f"{found}/{SEEDS}",
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
