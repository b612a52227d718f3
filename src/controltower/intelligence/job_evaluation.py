"""Per-job predictions scored by the protocol's split (``model evaluate --jobs``).

The runs are split as for runs (``evaluation.split``: per repository, in
request order, the last 25% are the test set; with ``on_validation`` each
repository's validation slice is scored instead, ``evaluation.validation_split``).
Every run is fed to a ``jobs.JobHistory`` in request order, so each test run's
jobs are predicted from the jobs that had completed by its request. A test
run's jobs are scored where one of that name, or of its family of caller and
reusable workflow's jobs, was expected (``jobs.ran_as``); jobs not expected
are counted. Outcome predictors: the job model (``job_model``: fitted on the
jobs of the fitting runs, calibrated on those of the validation runs), the
job's previous outcome, its smoothed recent failure share (failure predicted
at 0.5 or more when scored alone) and always pass. The model serves both
failure figures when its pooled F1 beats every baseline's; otherwise the
recent share serves the probability and the previous outcome the decision.
Duration: the job duration model (``job_duration``: fitted and calibrated on
the same runs as the job failure model), the previous successful duration,
and the median of the last five with the conformal 80% interval from the
job's earlier log-ratio residuals (``intervals``). The model serves job
durations when its pooled MdAPE beats every duration baseline's; otherwise the
median of five does. Figures are pooled, the unweighted mean over
repositories, and per repository, with the models' margins over the better
baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import numpy as np
import numpy.typing as npt

from controltower.errors import OneOutcome
from controltower.intelligence.evaluation import Split, labelled_rows, split, validation_split
from controltower.intelligence.features import Featurized, featurized
from controltower.intelligence.job_duration import (
    JobDurationModel,
    fit_job_duration_model,
    table_duration_rows,
)
from controltower.intelligence.job_model import JobTable, fit_job_model, job_table
from controltower.intelligence.jobs import JobAttempt, JobPrediction
from controltower.intelligence.margins import (
    duration_figures_under,
    margins,
    outcome_figures_under,
)
from controltower.intelligence.metrics import (
    DURATION_FIGURES,
    OUTCOME_FIGURES,
    Figures,
    duration_figures,
    mean_over,
    outcome_figures,
)
from controltower.intelligence.models import FailureModel
from controltower.intelligence.records import HistoryRun

RunKey = tuple[str, str, int]
NAN = float("nan")
OUTCOME_BASELINES = ("history_rate", "previous", "always_pass")
DURATION_BASELINES = ("median5_interval", "previous")


@dataclass(frozen=True, slots=True)
class Scored:
    """One expected test job that ran, its baselines' prediction and the models' (if any):
    the failure probability and decision, and the duration's p10, p50 and p90 (NaN: none)."""

    repository: str
    job: JobAttempt
    predicted: JobPrediction
    model_probability: float
    model_failed: bool
    model_duration: tuple[float, float, float] = (NAN, NAN, NAN)


def _f(value: float | None) -> float:
    return NAN if value is None else value


Decisions = dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]]


def _decisions(scored: Sequence[Scored], with_model: bool) -> tuple[Any, Decisions]:
    """Whether each scored job with an outcome failed, and each predictor's probability and call."""
    rows = [s for s in scored if s.job.failed is not None]
    failed = np.array([bool(s.job.failed) for s in rows], dtype=bool)
    previous = np.array([bool(s.predicted.failure_predicted) for s in rows], dtype=bool)
    rate = np.array([_f(s.predicted.failure_probability) for s in rows])
    rate = np.where(np.isnan(rate), 0.0, rate)
    never = np.zeros(len(rows), dtype=bool)
    out: Decisions = {}
    if with_model:
        probability = np.array([s.model_probability for s in rows], dtype=np.float64)
        out["model"] = (probability, np.array([s.model_failed for s in rows], dtype=bool))
    out["history_rate"] = (rate, rate >= 0.5)
    out["previous"] = (previous.astype(float), previous)
    out["always_pass"] = (never.astype(float), never)
    return failed, out


def _outcomes(scored: Sequence[Scored], with_model: bool) -> dict[str, Figures]:
    failed, decisions = _decisions(scored, with_model)
    return {name: outcome_figures(failed, p, d) for name, (p, d) in decisions.items()}


def _outcome_margins(
    scored: Sequence[Scored], outcome: dict[str, Any], seed: int
) -> dict[str, dict[str, dict[str, Any]]]:
    """The job model's margins over the better job baseline (``intelligence.margins``)."""
    failed, decisions = _decisions(scored, with_model=True)
    groups = _groups([s.repository for s in scored if s.job.failed is not None])
    figures = {n: outcome_figures_under(failed, p, d) for n, (p, d) in decisions.items()}
    points = {way: outcome[way] for way in ("pooled", "mean_over_repositories")}
    return margins(figures, points, OUTCOME_BASELINES, groups, seed=seed)


def _groups(repositories: Sequence[str]) -> npt.NDArray[np.int64]:
    """Each scored job's repository as a number, for the margins' per-repository means."""
    names = {name: i for i, name in enumerate(sorted(set(repositories)))}
    return np.array([names[r] for r in repositories], dtype=np.int64)


Quantiles = dict[str, npt.NDArray[np.float64]]


def _quantiles(scored: Sequence[Scored], with_model: bool) -> tuple[Any, Quantiles]:
    """The successful scored jobs' seconds, and each predictor's p10, p50 and p90 for them."""
    rows = [(d, s) for s in scored if (d := s.job.success_duration) is not None]
    actual = np.array([d for d, _ in rows], dtype=np.float64)
    served = [
        (s.predicted.duration_p10, s.predicted.duration_p50, s.predicted.duration_p90)
        for _, s in rows
    ]
    out: Quantiles = {}
    if with_model:
        out["model"] = np.array([s.model_duration for _, s in rows], dtype=np.float64).reshape(
            -1, 3
        )
    out["median5_interval"] = np.array(
        [[_f(low), _f(mid), _f(high)] for low, mid, high in served]
    ).reshape(-1, 3)
    out["previous"] = np.array(
        [[NAN, _f(s.predicted.duration_previous), NAN] for _, s in rows]
    ).reshape(-1, 3)
    return actual, out


def _durations(scored: Sequence[Scored], with_model: bool) -> dict[str, Figures]:
    actual, quantiles = _quantiles(scored, with_model)
    return {name: duration_figures(actual, q) for name, q in quantiles.items()}


def _duration_margins(
    scored: Sequence[Scored], duration: dict[str, Any], seed: int
) -> dict[str, dict[str, dict[str, Any]]]:
    """The job duration model's margins over the better duration baseline."""
    actual, quantiles = _quantiles(scored, with_model=True)
    groups = _groups([s.repository for s in scored if s.job.success_duration is not None])
    figures = {n: duration_figures_under(actual, q) for n, q in quantiles.items()}
    points = {way: duration[way] for way in ("pooled", "mean_over_repositories")}
    return margins(figures, points, DURATION_BASELINES, groups, seed=seed)


def _three_ways(
    scored: list[Scored],
    figures: Callable[[Sequence[Scored]], dict[str, Figures]],
    names: Sequence[str],
) -> dict[str, Any]:
    by_repo = {
        repo: figures(list(group)) for repo, group in groupby(scored, key=lambda s: s.repository)
    }
    predictors = list(figures([]).keys())
    return {
        "pooled": figures(scored),
        "mean_over_repositories": {
            p: mean_over([f[p] for f in by_repo.values()], names) for p in predictors
        },
        "per_repository": by_repo,
    }


def _counts(runs: Sequence[HistoryRun], test: Sequence[bool], jobs: Mapping[RunKey, Any]) -> Any:
    counts = {"test_runs_with_jobs": 0, "test_jobs": 0}
    for run, is_test in zip(runs, test, strict=True):
        own = jobs.get((run.repository, run.run_id, run.attempt), ())
        if is_test and own:
            counts["test_runs_with_jobs"] += 1
            counts["test_jobs"] += len({j.name for j in own})
    return counts


def _scored(
    table: JobTable,
    test: npt.NDArray[np.bool_],
    probability: Any,
    decided: Any,
    durations: npt.NDArray[np.float64],
) -> list[Scored]:
    out = []
    for i in np.flatnonzero(test[table.run_index]):
        job = table.ran[i]
        if job is None:
            continue
        out.append(
            Scored(
                table.repositories[i],
                job,
                table.predictions[i],
                float(probability[i]),
                bool(decided[i]),
                (float(durations[i, 0]), float(durations[i, 1]), float(durations[i, 2])),
            )
        )
    return out


def _served(outcome: dict[str, Any]) -> str:
    pooled = outcome["pooled"]
    if "model" not in pooled:
        return "baselines"
    best = max((pooled[name]["f1"] or 0.0) for name in OUTCOME_BASELINES)
    return "model" if (pooled["model"]["f1"] or 0.0) > best else "baselines"


def _served_duration(duration: dict[str, Any]) -> str:
    """``model`` where its pooled MdAPE beats every duration baseline's, else the median of
    five (``median5_interval``)."""
    pooled = duration["pooled"]
    model = pooled.get("model", {}).get("mdape")
    known = [m for name in DURATION_BASELINES if (m := pooled[name]["mdape"]) is not None]
    if model is None or not known:
        return "median5_interval"
    return "model" if model < min(known) else "median5_interval"


def _model_durations(
    table: JobTable, parts: Any, tested: npt.NDArray[np.bool_], seed: int
) -> tuple[npt.NDArray[np.float64], JobDurationModel | None]:
    """The job duration model's p10, p50 and p90 of the tested jobs (NaN elsewhere), and it."""
    out = np.full((len(table.ran), 3), NAN)
    rows = table_duration_rows(table)
    model = fit_job_duration_model(table, parts.fitting, parts.validation, seed=seed, rows=rows)
    if model is not None and tested.any():
        out[tested] = model.predict(rows[tested])
    return out, model


def _run_model_says(
    rows: npt.NDArray[np.float64], parts: Split, seed: int, fitted: FailureModel | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]] | None:
    """The run model's failure probability and decision for each test run (other runs: 1 and
    True, no bound), or None where it cannot learn (one outcome only). The model is ``fitted``,
    already fitted on the same split, else fitted here as ``model evaluate`` fits it."""
    model = fitted
    if model is None:
        model = FailureModel(seed=seed)
        try:
            model.fit(
                labelled_rows(rows, parts.failed, parts.fitting),
                labelled_rows(rows, parts.failed, parts.validation),
            )
        except OneOutcome:
            return None
    probability = np.ones(len(rows))
    failed = np.ones(len(rows), dtype=bool)
    if parts.test.any():
        probability[parts.test] = model.predict_proba(rows[parts.test])
        failed[parts.test] = model.predict(rows[parts.test])
    return probability, failed


def evaluate_jobs(
    runs: Sequence[HistoryRun] | Featurized,
    jobs: Mapping[RunKey, Sequence[JobAttempt]],
    *,
    seed: int = 0,
    on_validation: bool = False,
    run_model: FailureModel | None = None,
) -> dict[str, Any]:
    """The per-job report: counts, then outcome and duration figures three ways.

    ``run_model`` is the run failure model the jobs are held to, already fitted on the same
    split (``model train`` lends the one its run evaluation fitted: the same model, fitted
    once); without it, it is fitted here.
    """
    data = featurized(runs)
    ordered = data.runs
    parts = validation_split(ordered) if on_validation else split(ordered)
    table = job_table(ordered, data.rows, jobs)
    model = fit_job_model(table, parts.fitting, parts.validation, seed=seed)
    tested = parts.test[table.run_index]
    probability = np.full(len(table.failed), NAN)
    decided = np.zeros(len(table.failed), dtype=bool)
    if model is not None and tested.any():
        probability[tested] = model.predict_proba(table.rows[tested])
        decided[tested] = model.predict(table.rows[tested])
        bound = _run_model_says(data.rows, parts, seed, run_model)
        if bound is not None:  # each job held to its run (``jobs.held_to_run``)
            run_probability, run_failed = bound
            at = table.run_index[tested]
            probability[tested] = np.minimum(probability[tested], run_probability[at])
            decided[tested] &= run_failed[at]
    durations, duration_model = _model_durations(table, parts, tested, seed)
    scored = _scored(table, parts.test, probability, decided, durations)
    outcome = _three_ways(scored, lambda s: _outcomes(s, model is not None), OUTCOME_FIGURES)
    by_model = _served(outcome) == "model"
    timed = duration_model is not None
    duration = _three_ways(scored, lambda s: _durations(s, timed), DURATION_FIGURES)
    report: dict[str, Any] = {
        "protocol": "shared/spec/prediction-evaluation.md, per job",
        "model": None
        if model is None
        else {"kind": model.kind, "threshold": round(model.threshold, 4)},
        "served": {
            "failure_probability": "model" if by_model else "history_rate",
            "failure_predicted": "model" if by_model else "previous",
            "duration": _served_duration(duration),
        },
        "duration_model": None if duration_model is None else duration_model.settings(),
        **_counts(ordered, [bool(t) for t in parts.test], jobs),
        "expected": len(scored),
        "outcome": outcome,
        "duration": duration,
        "margins": {
            "outcome": _outcome_margins(scored, outcome, seed) if model else {},
            "duration": _duration_margins(scored, duration, seed) if timed else {},
        },
    }
    if on_validation:
        report["scored_on"] = "validation"
    return report
