"""Synthetic metric series the anomaly tests share."""

from __future__ import annotations

import numpy as np


def wandering_ramp(seed: int) -> np.ndarray:
    """Noise that wanders (each point 0.8 of the last plus noise of 5) around 100, and from
    point 150 a ramp of +60 over 120 points that stays."""
    rng = np.random.default_rng(seed)
    values = np.zeros(500)
    for i in range(1, 500):
        values[i] = 0.8 * values[i - 1] + rng.normal(0, 5)
    values += 100
    values[150:270] += np.linspace(0, 60, 120)
    values[270:] += 60
    return values
