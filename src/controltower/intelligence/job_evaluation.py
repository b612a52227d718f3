"""Per-job predictions scored by the protocol's split (``model evaluate --jobs``).

The runs are split as for runs (``evaluation.split``: per repository, in
request order, the last 25% are the test set). Every run is fed to a
``jobs.JobHistory`` in request order, so each test run's jobs are predicted
from the jobs that had completed by its request. A test run's jobs are scored
where one of that name was expected; jobs not expected are counted. Outcome
predictors: the job's previous outcome (served as the predicted outcome),
its smoothed recent failure share (served as the probability; failure
predicted at 0.5 or more when scored alone) and always pass. Duration: the
previous successful duration, and the median of the last five with the
conformal 80% interval from the job's earlier log-ratio residuals (served;
``intervals``). Figures are pooled, the
unweighted mean over repositories, and per repository.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import Any

import numpy as np

from controltower.intelligence.evaluation import split
from controltower.intelligence.jobs import JobAttempt, JobHistory, JobPrediction
from controltower.intelligence.metrics import (
    DURATION_FIGURES,
    OUTCOME_FIGURES,
    Figures,
    duration_figures,
    mean_over,
    outcome_figures,
)
from controltower.intelligence.records import HistoryRun, request_order, request_times

RunKey = tuple[str, str, int]
Scored = tuple[str, JobAttempt, JobPrediction]
NAN = float("nan")


def _f(value: float | None) -> float:
    return NAN if value is None else value


def _outcomes(scored: Sequence[Scored]) -> dict[str, Figures]:
    rows = [(j.failed, p) for _, j, p in scored if j.failed is not None]
    failed = np.array([bool(f) for f, _ in rows], dtype=bool)
    previous = np.array([bool(p.failure_predicted) for _, p in rows], dtype=bool)
    rate = np.array([_f(p.failure_probability) for _, p in rows])
    rate = np.where(np.isnan(rate), 0.0, rate)
    never = np.zeros(len(rows), dtype=bool)
    return {
        "history_rate": outcome_figures(failed, rate, rate >= 0.5),
        "previous": outcome_figures(failed, previous.astype(float), previous),
        "always_pass": outcome_figures(failed, never.astype(float), never),
    }


def _durations(scored: Sequence[Scored]) -> dict[str, Figures]:
    rows = [(j.success_duration, p) for _, j, p in scored if j.success_duration is not None]
    actual = np.array([d for d, _ in rows], dtype=np.float64)
    served = np.array(
        [[_f(p.duration_p10), _f(p.duration_p50), _f(p.duration_p90)] for _, p in rows]
    ).reshape(-1, 3)
    previous = np.array([[NAN, _f(p.duration_previous), NAN] for _, p in rows]).reshape(-1, 3)
    return {
        "median5_interval": duration_figures(actual, served),
        "previous": duration_figures(actual, previous),
    }


def _three_ways(scored: list[Scored], figures: Any, names: Sequence[str]) -> dict[str, Any]:
    by_repo = {repo: figures(list(group)) for repo, group in groupby(scored, key=lambda s: s[0])}
    predictors = list(figures([]).keys())
    return {
        "pooled": figures(scored),
        "mean_over_repositories": {
            p: mean_over([f[p] for f in by_repo.values()], names) for p in predictors
        },
        "per_repository": by_repo,
    }


def _score(
    runs: list[HistoryRun], test: Sequence[bool], jobs: Mapping[RunKey, Sequence[JobAttempt]]
) -> tuple[list[Scored], dict[str, int]]:
    scored: list[Scored] = []
    counts = {"test_runs_with_jobs": 0, "test_jobs": 0, "expected": 0}
    at = 0
    for repo, group in groupby(runs, key=lambda r: r.repository):
        ordered = list(group)
        history = JobHistory()
        for run, t in zip(ordered, request_times(ordered), strict=True):
            own = jobs.get((run.repository, run.run_id, run.attempt), ())
            predicted = {p.name: p for p in history.request(run, t, own)}
            is_test, at = test[at], at + 1
            if not is_test or not own:
                continue
            counts["test_runs_with_jobs"] += 1
            for job in {j.name: j for j in reversed(own)}.values():
                counts["test_jobs"] += 1
                if job.name in predicted:
                    counts["expected"] += 1
                    scored.append((repo, job, predicted[job.name]))
    return scored, counts


def evaluate_jobs(
    runs: Sequence[HistoryRun], jobs: Mapping[RunKey, Sequence[JobAttempt]]
) -> dict[str, Any]:
    """The per-job report: counts, then outcome and duration figures three ways."""
    ordered = request_order(runs)
    parts = split(ordered)
    scored, counts = _score(ordered, [bool(t) for t in parts.test], jobs)
    return {
        "protocol": "shared/spec/prediction-evaluation.md, per job",
        "model": None,
        "served": {
            "failure_probability": "history_rate",
            "failure_predicted": "previous",
            "duration": "median5_interval",
        },
        **counts,
        "outcome": _three_ways(scored, _outcomes, OUTCOME_FIGURES),
        "duration": _three_ways(scored, _durations, DURATION_FIGURES),
    }
