"""The roles every predictor plays, models and baselines alike, and the data they learn from.

A predictor is fitted on feature rows (``features.FEATURES``) of runs that
had completed before the test period, on a time-ordered fitting slice and a
later validation slice (for calibration and thresholds), and predicts from
feature rows only. ``to_dict``/``from_dict`` are its saved form: plain JSON
values, so that a saved predictor loads into the same predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Labelled:
    """Feature rows and their targets: 1.0 failed / 0.0 passed, or seconds."""

    rows: Matrix
    targets: Vector

    def __len__(self) -> int:
        return len(self.targets)


class OutcomePredictor(Protocol):
    """Predicts whether a run will fail."""

    name: str

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        """Learn from the fitting slice; calibrate and choose thresholds on the validation slice."""

    def predict_proba(self, rows: Matrix) -> Vector:
        """Probability of failure of each row."""

    def predict(self, rows: Matrix) -> npt.NDArray[np.bool_]:
        """Whether each row is predicted to fail."""

    def to_dict(self) -> dict[str, Any]:
        """The saved form."""


class DurationPredictor(Protocol):
    """Predicts how long a successful run will take."""

    name: str

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        """Learn from the fitting slice; calibrate intervals on the validation slice."""

    def predict(self, rows: Matrix) -> Matrix:
        """Seconds at the 10th, 50th and 90th percentile per row (NaN where not predicted)."""

    def to_dict(self) -> dict[str, Any]:
        """The saved form."""
