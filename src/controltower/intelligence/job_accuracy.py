"""Live accuracy of per-job predictions: each expected job of a completed run, per predictor.

For each expected job of a predicted run that passed or failed
(``accuracy.live_accuracy`` picks the runs): the stored failure figures for
the predictor that gave them (the live version's job model or the
baselines), and the others recomputed from the run's features and the job
history at its request: the job model, the job's smoothed recent failure
share (``history_rate``) and its previous outcome (``previous``). Where the
job passed, its durations likewise: the stored ones for what gave them (the
job duration model or the median of five), the others again (``median5``,
the job's previous duration, the live job duration model).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection

from controltower.domain import outcome
from controltower.intelligence import registry
from controltower.intelligence.job_serving import (
    JobComparison,
    baselines_and_model,
    job_comparisons,
)
from controltower.intelligence.jobs import JobAttempt, JobPrediction, RunBound

JOB_BASELINES = ("history_rate", "previous")
JOB_DURATION_BASELINES = ("median5",)


@dataclass(slots=True)
class JobScores:
    """Per predictor, what it said of the scored jobs: failure (beside ``failed``), and the
    p10, p50 and p90 of the successful ones (beside their seconds, ``actual``)."""

    failed: list[bool] = field(default_factory=list)
    probability: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    predicted: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    actual: list[float] = field(default_factory=list)
    quantiles: dict[str, list[list[float]]] = field(default_factory=lambda: defaultdict(list))


def score_jobs(
    conn: Connection,
    scored: JobScores,
    served: dict[str, dict[str, int]],
    run_pk: int,
    features: Any,
    models: registry.LoadedModels | None,
    run: RunBound | None = None,
) -> None:
    """Score the stored job predictions of one run whose jobs passed or failed; a job the live
    model predicts again is held to ``run``, the run's stored figures, as served ones were."""
    outcomes = [(j, outcome(j.actual_conclusion)) for j in job_comparisons(conn, run_pk)]
    done = [(j, failed) for j, failed in outcomes if failed is not None]
    if not done:
        return
    model = models.job_failure if models is not None else None
    timing = models.job_duration if models is not None else None
    by_baselines, by_model = baselines_and_model(conn, run_pk, features, model, timing, run)
    baselines = {p.name: p for p in by_baselines}
    modelled = {p.name: p for p in by_model}
    count = served["job_failure"]
    for job, failed in done:
        base = baselines.get(job.name)
        if base is not None:
            again_timed = modelled.get(job.name)
            _score_job_duration(scored, served, job, base, again_timed, timing is not None)
        by = job.failure_predictor or "baselines"
        # the live version's job model: as stored where it gave the figures, else again
        again = job if by == "model" else modelled.get(job.name)
        if base is None or job.failure_probability is None or (model is not None and again is None):
            continue
        count[by] = count.get(by, 0) + 1
        scored.failed.append(failed)
        share, previous = base.failure_probability or 0.0, bool(base.failure_predicted)
        if by == "baselines":
            share, previous = job.failure_probability, bool(job.failure_predicted)
        scored.probability["history_rate"].append(share)
        scored.predicted["history_rate"].append(share >= 0.5)
        scored.probability["previous"].append(float(previous))
        scored.predicted["previous"].append(previous)
        if model is not None and again is not None:
            scored.probability["model"].append(again.failure_probability or 0.0)
            scored.predicted["model"].append(bool(again.failure_predicted))


def _quantiles(p10: float | None, p50: float | None, p90: float | None) -> list[float]:
    return [np.nan if v is None else float(v) for v in (p10, p50, p90)]


def _score_job_duration(
    scored: JobScores,
    served: dict[str, dict[str, int]],
    job: JobComparison,
    base: JobPrediction,
    again: JobPrediction | None,
    with_model: bool,
) -> None:
    """Score one expected job's durations where it passed: what gave them as stored, the
    median of five, the previous duration and the live job duration model again."""
    seconds = JobAttempt(job.name, job.actual_conclusion, job.actual_duration_s).success_duration
    if seconds is None or (with_model and again is None and job.duration_predictor != "model"):
        return
    by = job.duration_predictor
    served["job_duration"][by] = served["job_duration"].get(by, 0) + 1
    scored.actual.append(seconds)
    stored = _quantiles(job.duration_p10, job.duration_p50, job.duration_p90)
    median = _quantiles(base.duration_p10, base.duration_p50, base.duration_p90)
    scored.quantiles["median5"].append(stored if by == "median5" else median)
    scored.quantiles["previous"].append(_quantiles(None, base.duration_previous, None))
    if with_model:
        if by == "model" or again is None:
            scored.quantiles["model"].append(stored)
        else:
            modelled = _quantiles(again.duration_p10, again.duration_p50, again.duration_p90)
            scored.quantiles["model"].append(modelled)
