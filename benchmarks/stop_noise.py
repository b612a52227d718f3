"""Stops: false ones on runs-per-day noise, and how soon a real one is told, per ``stop_alpha``.

Runs per day as Poisson counts at several rates, every day or on working
days only (none on Saturdays and Sundays), 2,000 days per series, ten
seeds: the stops ``anomaly detect`` tells on the noise alone (all false),
and, with the same noise stopped for good at a random day after the first
300 (90 days of zeros, then the series ends), whether the fall is told, as
a stop or by the change detector (a level shift down), and after how many
zero days (the delay: from the first zero to the first alarm of a fall, in
days, median and largest over the seeds). The change detector alone
(``stops`` off) is measured on the same series for comparison.

    python -m benchmarks.stop_noise
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np

from controltower.anomaly.detection import detect
from controltower.anomaly.model import Anomaly, Point
from controltower.anomaly.tuning import Tuning

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
RATES = (1.5, 2.0, 3.0, 5.0, 10.0)
ALPHAS: tuple[float | None, ...] = (None, 1e-2, 1e-3, 1e-4)  # None: no stops
DAYS, SEEDS, ZEROS = 2_000, 10, 90


def _points(values: np.ndarray) -> list[Point]:
    return [Point(T0 + timedelta(days=i), float(v)) for i, v in enumerate(values)]


def _stops(values: np.ndarray, tuning: Tuning) -> list[Anomaly]:
    return [a for a in detect(_points(values), tuning) if a.details.get("stopped")]


def _falls(values: np.ndarray, tuning: Tuning) -> list[Anomaly]:
    return [a for a in detect(_points(values), tuning) if a.change < 0 and a.kind != "spike"]


def main() -> None:
    """One JSON line per rate, pattern and ``stop_alpha``."""
    for working_days in (False, True):
        for rate in RATES:
            for alpha in ALPHAS:
                tuning = Tuning(stops=False) if alpha is None else Tuning(stop_alpha=alpha)
                false, delays = 0, []
                for seed in range(SEEDS):
                    rng = np.random.default_rng(seed)
                    noise = rng.poisson(rate, DAYS).astype(float)
                    if working_days:
                        noise[(np.arange(DAYS) % 7) >= 5] = 0.0
                    false += len(_stops(noise, tuning))
                    at = int(rng.integers(300, DAYS - ZEROS))
                    stopped = noise[: at + ZEROS].copy()
                    stopped[at:] = 0.0
                    told = [a.index - at for a in _falls(stopped, tuning) if a.index >= at]
                    if told:
                        delays.append(min(told))
                print(
                    json.dumps(
                        {
                            "runs_per_day": rate,
                            "working_days_only": working_days,
                            "stop_alpha": alpha,
                            "false_stops_per_10k_days": round(false / SEEDS * 10_000 / DAYS, 2),
                            "falls_told": f"{len(delays)}/{SEEDS}",
                            "delay_median": float(np.median(delays)) if delays else None,
                            "delay_max": max(delays) if delays else None,
                        }
                    )
                )


if __name__ == "__main__":
    main()
