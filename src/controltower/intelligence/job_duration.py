"""The per-job duration model: the run duration model's correction of a job's median of five.

A job's duration row is its job row (``jobs.JOB_INPUTS``: the run's model
inputs, then the job's record) followed by what the job's own history
predicts without a model (``jobs.JOB_DURATION``: the median of its last five
successful durations, its previous one, and the conformal 80% interval
around the median, ``jobs.predict_job``). ``JobDurationModel`` is
``duration.DurationModel`` on these rows: p10/p50/p90 quantile regressors
of ``log((d + 1) / (median5 + 1))`` (one second added, as the job's
residuals are, so zero-second jobs are defined), from the job row plus the
job's previous duration and the run's recent durations as log-ratios, the
correction shrunk and cut by the dead zone chosen on the validation slice
(the run model's one implementation). p10 and p90 are the job's conformal
interval where it has one (widened to contain p50), else the quantiles
widened on the validation slice. It learns from the successful jobs of the
fitting runs and calibrates on those of the validation runs, as the job
failure model does (``job_model.fit_job_model``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from controltower.intelligence.duration import MIN_RUNS, MIN_SECONDS, RATIOS, DurationModel
from controltower.intelligence.features import INDEX
from controltower.intelligence.job_model import JobTable, Mask
from controltower.intelligence.jobs import JOB_DURATION_COLUMNS, JOB_INPUTS, duration_rows
from controltower.intelligence.predictors import Labelled, Matrix, Vector

AT = {name: i for i, name in enumerate(JOB_DURATION_COLUMNS)}
NAMES = (*JOB_INPUTS, *(f"{name}_ratio" for name in RATIOS), "job_dur_prev_ratio")
NAN = float("nan")


class JobDurationModel(DurationModel):
    """``DurationModel`` on job duration rows, as a correction of the job's median of five."""

    kind = "job_duration_model"
    floor, offset = 0.0, 1.0

    def _reference(self, rows: Matrix) -> Vector:
        return self._known(rows[:, AT["job_dur_median5"]])

    def _inputs(self, rows: Matrix) -> Matrix:
        run_reference = np.maximum(rows[:, INDEX["base_dur_median5"]], MIN_SECONDS)
        runs = [np.log(np.maximum(rows[:, INDEX[n]], MIN_SECONDS) / run_reference) for n in RATIOS]
        previous = np.maximum(rows[:, AT["job_dur_prev"]], 0.0) + self.offset
        own = np.log(previous / (self._reference(rows) + self.offset))
        return np.column_stack([rows[:, : len(JOB_INPUTS)], *runs, own])

    def _names(self) -> tuple[str, ...]:
        return NAMES

    def _trailing_interval(self, rows: Matrix, reference: Vector, out: Matrix) -> None:
        """Where the job has its conformal interval, p10 and p90 are it (containing p50)."""
        low, high = rows[:, AT["job_dur_p10"]], rows[:, AT["job_dur_p90"]]
        known = np.isfinite(low) & np.isfinite(high) & np.isfinite(out[:, 1])
        out[:, 0] = np.where(known, np.minimum(low, out[:, 1]), out[:, 0])
        out[:, 2] = np.where(known, np.maximum(high, out[:, 1]), out[:, 2])


def job_durations(table: JobTable) -> Vector:
    """Each expected job's successful duration in seconds (NaN: it did not run and pass)."""
    return np.array(
        [NAN if j is None or (d := j.success_duration) is None else d for j in table.ran],
        dtype=np.float64,
    )


def table_duration_rows(table: JobTable) -> Matrix:
    """The duration rows of a ``JobTable``'s jobs."""
    return duration_rows(table.rows, table.predictions)


def fit_job_duration_model(
    table: JobTable,
    fitting: Mask,
    validation: Mask,
    *,
    seed: int = 0,
    threads: int = 2,
    rows: npt.NDArray[np.float64] | None = None,
) -> JobDurationModel | None:
    """The job duration model fitted on the successful jobs of ``fitting`` runs, calibrated on
    ``validation``'s (None: fewer than ``duration.MIN_RUNS`` to learn from).

    ``rows``: the table's duration rows, where the caller has them already.
    """
    seconds = job_durations(table)
    known = ~np.isnan(seconds)
    fit = known & fitting[table.run_index]
    check = known & validation[table.run_index]
    if fit.sum() < MIN_RUNS:
        return None
    every = table_duration_rows(table) if rows is None else rows
    model = JobDurationModel(seed=seed, threads=threads)
    model.fit(Labelled(every[fit], seconds[fit]), Labelled(every[check], seconds[check]))
    return model
