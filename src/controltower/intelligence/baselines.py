"""The baselines every model is printed beside (``shared/spec/prediction-evaluation.md``).

Each reads one feature column that ``features`` computes from the completed
history, so a baseline sees exactly what a model sees and nothing else:

- ``previous``: the outcome of the previous completed run of the same
  workflow and branch, else of the repository's previous run;
- ``always_pass``: never predicts a failure;
- ``previous`` (duration): the previous successful run of the same workflow,
  else of the repository;
- ``median5``: the median of that workflow's last five successful runs, with
  an 80% interval from how the workflow's recent successful runs compared
  with the median of five before each (``median_interval``), where it has
  enough of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from controltower.intelligence.features import INDEX, INTERVAL
from controltower.intelligence.predictors import Labelled, Matrix, Vector


class PreviousOutcome:
    """Failure predicted when the previous completed run failed."""

    name = "previous"

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        """Nothing to learn."""

    def predict_proba(self, rows: Matrix) -> Vector:
        """1.0 where the previous run failed, else 0.0 (also with no previous run)."""
        return np.nan_to_num(rows[:, INDEX["base_prev_failed"]], nan=0.0)

    def predict(self, rows: Matrix) -> npt.NDArray[np.bool_]:
        """Fails where the previous run failed."""
        return self.predict_proba(rows) >= 0.5

    def to_dict(self) -> dict[str, Any]:
        """The saved form."""
        return {"kind": "previous_outcome"}


class AlwaysPass:
    """Never predicts a failure."""

    name = "always_pass"

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        """Nothing to learn."""

    def predict_proba(self, rows: Matrix) -> Vector:
        """0.0 for every row."""
        return np.zeros(len(rows))

    def predict(self, rows: Matrix) -> npt.NDArray[np.bool_]:
        """False for every row."""
        return np.zeros(len(rows), dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        """The saved form."""
        return {"kind": "always_pass"}


def median_interval(rows: Matrix, reference: Vector, out: Matrix) -> None:
    """p10 and p90 around ``reference`` from the workflow's residual bounds, where known.

    ``out`` holds p10, p50 and p90 in seconds and is changed in place; the
    bounds always contain p50, and rows without bounds keep what they had.
    """
    low_bound, high_bound = (rows[:, INDEX[name]] for name in INTERVAL)
    known = np.isfinite(low_bound) & np.isfinite(high_bound) & np.isfinite(out[:, 1])
    # Residuals are measured with one second added (``intervals.log_residual``).
    with np.errstate(invalid="ignore"):
        low = np.maximum((reference + 1.0) * np.exp(low_bound) - 1.0, 0.0)
        high = (reference + 1.0) * np.exp(high_bound) - 1.0
        out[:, 0] = np.where(known, np.minimum(low, out[:, 1]), out[:, 0])
        out[:, 2] = np.where(known, np.maximum(high, out[:, 1]), out[:, 2])


class _ColumnDuration:
    name = ""
    column = ""

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        """Nothing to learn."""

    def predict(self, rows: Matrix) -> Matrix:
        """The column as the median; no interval."""
        out = np.full((len(rows), 3), np.nan)
        out[:, 1] = rows[:, INDEX[self.column]]
        return out

    def to_dict(self) -> dict[str, Any]:
        """The saved form."""
        return {"kind": f"{self.name}_duration"}


class PreviousDuration(_ColumnDuration):
    """The previous successful run's duration."""

    name = "previous"
    column = "base_dur_prev"


class MedianOfFive(_ColumnDuration):
    """The median of the last five successful runs of the same workflow, and its interval."""

    name = "median5"
    column = "base_dur_median5"

    def predict(self, rows: Matrix) -> Matrix:
        """The median of five; p10 and p90 where the workflow has enough residuals."""
        out = super().predict(rows)
        median_interval(rows, out[:, 1].copy(), out)
        return out


BASELINES: dict[str, Any] = {
    "previous_outcome": PreviousOutcome,
    "always_pass": AlwaysPass,
    "previous_duration": PreviousDuration,
    "median5_duration": MedianOfFive,
}


def baseline_from_dict(saved: dict[str, Any]) -> Any:
    """The baseline a ``to_dict`` came from."""
    return BASELINES[saved["kind"]]()
