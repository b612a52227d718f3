"""Training the live models on a whole history, the latest fifth of each repository calibrating.

Where jobs are known, the job failure model (``job_model``) and the job
duration model (``job_duration``) learn from the jobs of the same runs, split
the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from controltower.intelligence.duration import DurationModel
from controltower.intelligence.features import Featurized, featurized
from controltower.intelligence.job_duration import JobDurationModel, fit_job_duration_model
from controltower.intelligence.job_model import JobFailureModel, RunKey, fit_job_model, job_table
from controltower.intelligence.jobs import JobAttempt
from controltower.intelligence.models import FailureModel
from controltower.intelligence.predictors import Labelled, Matrix
from controltower.intelligence.records import HistoryRun

VALIDATION_SHARE = 0.20


@dataclass(frozen=True, slots=True)
class Trained:
    """The models and how many runs they learned from (no job models: no jobs to learn from)."""

    failure: FailureModel
    duration: DurationModel
    runs: int
    job_failure: JobFailureModel | None = None
    job_duration: JobDurationModel | None = None


def _validation_mask(runs: Sequence[HistoryRun]) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
    mask = np.zeros(len(runs), dtype=bool)
    start = 0
    while start < len(runs):
        end = start
        while end < len(runs) and runs[end].repository == runs[start].repository:
            end += 1
        mask[end - math.ceil((end - start) * VALIDATION_SHARE) : end] = True
        start = end
    return mask


def _labelled(rows: Matrix, targets: np.ndarray, keep: np.ndarray) -> Labelled:
    keep = keep & ~np.isnan(targets)
    return Labelled(rows[keep], targets[keep])


def train(
    history: Sequence[HistoryRun] | Featurized,
    *,
    jobs: Mapping[RunKey, Sequence[JobAttempt]] | None = None,
    seed: int = 0,
    threads: int = 2,
) -> Trained:
    """Fit the failure and duration models on ``history``, the job models on its ``jobs``."""
    data = featurized(history)
    runs, rows = data.runs, data.rows
    validation = _validation_mask(runs)
    failed = np.array([np.nan if r.failed is None else float(r.failed) for r in runs])
    seconds = np.array([np.nan if (d := r.success_duration) is None else d for r in runs])
    failure = FailureModel(seed=seed, threads=threads)
    failure.fit(_labelled(rows, failed, ~validation), _labelled(rows, failed, validation))
    duration = DurationModel(seed=seed, threads=threads)
    duration.fit(_labelled(rows, seconds, ~validation), _labelled(rows, seconds, validation))
    job_failure = job_duration = None
    if jobs:
        table = job_table(runs, rows, jobs)
        job_failure = fit_job_model(table, ~validation, validation, seed=seed, threads=threads)
        job_duration = fit_job_duration_model(
            table, ~validation, validation, seed=seed, threads=threads
        )
    return Trained(failure, duration, len(runs), job_failure, job_duration)
