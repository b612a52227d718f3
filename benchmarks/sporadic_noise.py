"""Spikes of mostly-zero series: false alarms on pure count noise, and incidents found, per bar.

Errors per minute as Poisson counts at several rates (zero at most points),
10,000 points per series, ten seeds: the alarms ``anomaly detect`` raises
on the noise alone (all false) for each bar (``Tuning.sporadic_peak``, the
multiple of the usual peak a point must exceed), and the share of incidents
found when one point of each series is raised to 5, 10 or 20 errors at a
random place after the first 300.

    python -m benchmarks.sporadic_noise
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np

from controltower.anomaly.detection import detect
from controltower.anomaly.model import Point
from controltower.anomaly.tuning import Tuning

T0 = datetime(2025, 1, 1, tzinfo=UTC)
RATES = (0.02, 0.05, 0.15, 0.4)
BARS = (2.0, 3.0, 4.0)
INCIDENTS = (5.0, 10.0, 20.0)
POINTS, SEEDS = 10_000, 10


def _points(values: np.ndarray) -> list[Point]:
    return [Point(T0 + timedelta(minutes=i), float(v)) for i, v in enumerate(values)]


def main() -> None:
    """One JSON line per rate and bar."""
    for rate in RATES:
        for bar in BARS:
            tuning = Tuning(sporadic=True, sporadic_peak=bar)
            false = 0
            found = dict.fromkeys(INCIDENTS, 0)
            for seed in range(SEEDS):
                rng = np.random.default_rng(seed)
                noise = rng.poisson(rate, POINTS).astype(float)
                false += len(detect(_points(noise), tuning))
                for size in INCIDENTS:
                    at = int(rng.integers(300, POINTS))
                    hit = noise.copy()
                    hit[at] = size
                    found[size] += any(a.index == at for a in detect(_points(hit), tuning))
            print(
                json.dumps(
                    {
                        "rate": rate,
                        "zero_share": round(float(np.exp(-rate)), 3),
                        "bar": bar,
                        "false_alarms_per_10k_points": round(false / SEEDS * 10_000 / POINTS, 2),
                        **{f"found_{int(s)}": f"{found[s]}/{SEEDS}" for s in INCIDENTS},
                    }
                )
            )


if __name__ == "__main__":
    main()
