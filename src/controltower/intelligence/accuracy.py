"""Live accuracy: how the stored predictions of recently completed runs fared, per predictor.

For the runs completed in the window that have a stored prediction, every
predictor is scored on the same runs: the one that served uses what was
stored, the others (the live version's model, the baselines) are computed
from the same features, known when each run was requested. Failure is scored
by precision, recall and F1 on runs that passed or failed; duration by the
share within ±20%, the 80% interval coverage and the median absolute
percentage error on successful runs, as in the evaluation protocol.
The model is scored with the version that made each prediction; a prediction
made before any version existed with the live version, unless that version
learnt from the run's outcome (it completed before the history the version
was trained on stood): no version can score that run out of sample, and it
is left out of every predictor's figures (``left_out``), so that all are
still scored on the same runs.

Jobs the same way (``job_accuracy``): each expected job of those runs that
passed or failed, by precision, recall and F1, and its durations where it
passed, as runs' are.

``check_live_accuracy`` demotes the live version's predictor of a figure to
the best baseline when the model's live figure falls below it by more than
``intelligence.demote_margin`` (jobs' failure figures to the baselines, jobs'
durations to the median of five);
``demotions`` tells which figures are demoted, for the problems list.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import structlog
from sqlalchemy import Connection, func, select

from controltower.config import Settings
from controltower.intelligence import registry
from controltower.intelligence.features import featurize
from controltower.intelligence.job_accuracy import (
    JOB_BASELINES,
    JOB_DURATION_BASELINES,
    JobScores,
    score_jobs,
)
from controltower.intelligence.jobs import RunBound
from controltower.intelligence.metrics import Figures, duration_figures, outcome_figures
from controltower.intelligence.records import request_order
from controltower.intelligence.selection import DURATION_BASELINES, OUTCOME_BASELINES
from controltower.intelligence.serving import (
    DURATION_BASELINES as DURATION_PREDICTORS,
)
from controltower.intelligence.serving import (
    OUTCOME_BASELINES as OUTCOME_PREDICTORS,
)
from controltower.intelligence.serving import live_models, predictions_t, version_models
from controltower.intelligence.source import repos_t, repository_history, runs_t

log = structlog.get_logger(__name__)
FAILURE_FIGURES = ("precision", "recall", "f1")
DURATION_SHOWN = ("within_20", "coverage_80", "mdape")


@dataclass(frozen=True, slots=True)
class LiveAccuracy:
    """Figures per predictor over the predicted runs completed between ``since`` and ``until``.

    ``left_out``: of those runs, the ones predicted before any version existed whose outcome
    the live version learnt from (scored by nothing: no version could score them out of
    sample). ``model_versions``: how many of the scored runs each version's models were
    scored on (the version that made the prediction, or the live one).
    """

    since: datetime
    until: datetime
    runs: int
    failure_runs: int
    duration_runs: int
    served: dict[str, dict[str, int]]
    failure: dict[str, Figures] = field(default_factory=dict)
    duration: dict[str, Figures] = field(default_factory=dict)
    jobs: int = 0
    job_failure: dict[str, Figures] = field(default_factory=dict)
    job_duration_jobs: int = 0
    job_duration: dict[str, Figures] = field(default_factory=dict)
    left_out: int = 0
    model_versions: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Demotion:
    """A figure of the live version served by a baseline instead of the model its report chose."""

    version: int
    figure: str
    predictor: str


@dataclass(slots=True)
class _Scored:
    failed: list[bool] = field(default_factory=list)
    probability: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    predicted: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    actual: list[float] = field(default_factory=list)
    quantiles: dict[str, list[list[float]]] = field(default_factory=lambda: defaultdict(list))
    jobs: JobScores = field(default_factory=JobScores)


def _predicted_runs(conn: Connection, since: datetime, until: datetime) -> list[Any]:
    p, r = predictions_t.c, runs_t.c
    query = (
        select(repos_t.c.full_name, r.run_id, r.attempt, predictions_t)
        .join(runs_t, runs_t.c.id == p.run_pk)
        .join(repos_t, repos_t.c.id == r.repository_id)
        .where(r.status == "completed", r.completed_at >= since, r.completed_at <= until)
    )
    return list(conn.execute(query))


def accuracy_end(conn: Connection, now: datetime | None = None) -> datetime:
    """Where a view of live accuracy ends: now, or just after the newest predicted run that
    completed, if that is earlier (an imported history's predictions, months old, stay in
    view; on a live installation it is about now). Demotions are judged up to now."""
    now = now or datetime.now(UTC)
    newest = conn.execute(
        select(func.max(runs_t.c.completed_at))
        .join(predictions_t, predictions_t.c.run_pk == runs_t.c.id)
        .where(runs_t.c.status == "completed")
    ).scalar_one_or_none()
    return now if newest is None else min(now, newest + timedelta(seconds=1))


def live_accuracy(conn: Connection, days: int = 14, now: datetime | None = None) -> LiveAccuracy:
    """Live accuracy over the predicted runs completed in the last ``days`` days."""
    until = now or datetime.now(UTC)
    since = until - timedelta(days=days)
    rows = _predicted_runs(conn, since, until)
    live = live_models(conn) if rows else None
    learnt_until = _learnt_until(conn) if live is not None else None
    left_out = 0
    used: dict[int, int] = {}  # runs scored with each version's models
    versions: dict[int, registry.LoadedModels] = {}  # those that made the predictions, read once
    scored = _Scored()
    served: dict[str, dict[str, int]] = {
        "failure": {},
        "duration": {},
        "job_failure": {},
        "job_duration": {},
    }
    by_repo: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_repo[row.full_name].append(row)
    for repository, stored in by_repo.items():
        ordered = request_order(repository_history(conn, repository, until=until))
        at = {(run.run_id, run.attempt): i for i, run in enumerate(ordered)}
        features = featurize(ordered)
        for row in stored:
            i = at.get((row.run_id, row.attempt))
            if i is None:
                continue
            if row.version_id is None and _learnt(ordered[i], learnt_until):
                left_out += 1
                continue
            models = _as_predicted(conn, row, live, versions)
            if models is not None:
                used[models.version] = used.get(models.version, 0) + 1
            _score(scored, served, ordered[i], features[i : i + 1], row, models)
            bound = RunBound.of(row)
            score_jobs(conn, scored.jobs, served, row.run_pk, features[i : i + 1], models, bound)
    actual = np.array(scored.actual, dtype=float)
    failure = _failure_figures(scored.failed, scored.probability, scored.predicted)
    duration = _duration_figures(scored.actual, scored.quantiles)
    jobs = scored.jobs
    job_failure = _failure_figures(jobs.failed, jobs.probability, jobs.predicted)
    return LiveAccuracy(
        since=since,
        until=until,
        runs=len(rows),
        failure_runs=len(scored.failed),
        duration_runs=len(actual),
        served=served,
        failure=failure,
        duration=duration,
        jobs=len(jobs.failed),
        job_failure=job_failure,
        job_duration_jobs=len(jobs.actual),
        job_duration=_duration_figures(jobs.actual, jobs.quantiles),
        left_out=left_out,
        model_versions=dict(sorted(used.items())),
    )


def _learnt_until(conn: Connection) -> float | None:
    """When the history the live version learnt from stood (a POSIX time): the moment it was
    trained as of (``history_as_of``), else its creation; None without a live version."""
    info = registry.live_version(conn)
    if info is None:
        return None
    moment = info.history_as_of
    return (datetime.fromisoformat(moment) if moment else info.created_at).timestamp()


def _learnt(run: Any, learnt_until: float | None) -> bool:
    """Whether a version whose history stood at ``learnt_until`` learnt ``run``'s outcome: the
    run had completed by then."""
    completed = run.completed
    return learnt_until is not None and completed is not None and completed <= learnt_until


def _as_predicted(
    conn: Connection,
    row: Any,
    live: registry.LoadedModels | None,
    versions: dict[int, registry.LoadedModels],
) -> registry.LoadedModels | None:
    """The models a stored prediction is scored again with: those of the version that made it
    (trained on what had completed before; the live version may have learnt from the run
    itself since), else the live version's (a prediction made before any version, of a run
    that version did not learn from: ``_learnt``). Each
    version is looked up once per scoring (``versions``), not once per run."""
    if live is None or row.version_id is None or row.version_id == live.version:
        return live
    if row.version_id not in versions:
        versions[row.version_id] = version_models(conn, row.version_id)
    return versions[row.version_id]


def _duration_figures(
    actual: list[float], quantiles: dict[str, list[list[float]]]
) -> dict[str, Figures]:
    """Within ±20%, coverage and MdAPE of each predictor on the same durations."""
    seconds = np.array(actual, dtype=float)
    return {
        name: _pick(
            duration_figures(seconds, np.array(q, dtype=float).reshape(-1, 3)), DURATION_SHOWN
        )
        for name, q in quantiles.items()
    }


def _failure_figures(
    failed: list[bool],
    probability: dict[str, list[float]],
    predicted: dict[str, list[bool]],
) -> dict[str, Figures]:
    """Precision, recall and F1 of each predictor on the same outcomes."""
    outcomes = np.array(failed, dtype=bool)
    return {
        name: _pick(
            outcome_figures(
                outcomes,
                np.array(probability[name], dtype=float),
                np.array(predicted[name], dtype=bool),
            ),
            FAILURE_FIGURES,
        )
        for name in probability
    }


def _pick(figures: Figures, names: tuple[str, ...]) -> Figures:
    return {name: figures[name] for name in names}


def _score(
    scored: _Scored,
    served: dict[str, dict[str, int]],
    run: Any,
    features: Any,
    row: Any,
    models: registry.LoadedModels | None,
) -> None:
    failed, seconds = run.failed, run.success_duration
    if failed is not None and row.failure_probability is not None:
        scored.failed.append(failed)
        count = served["failure"]
        count[row.failure_predictor] = count.get(row.failure_predictor, 0) + 1
        # the decision and the probability as stored for whatever gave them, the rest again
        gave_probability = row.probability_predictor or row.failure_predictor
        predictors: dict[str, Any] = dict(OUTCOME_PREDICTORS)
        if models is not None:
            predictors["model"] = models.failure
        for name, predictor in predictors.items():
            probability = float(predictor.predict_proba(features)[0])
            predicted = bool(predictor.predict(features)[0])
            if name == gave_probability:
                probability = row.failure_probability
            if name == row.failure_predictor:
                predicted = bool(row.failure_predicted)
            scored.probability[name].append(probability)
            scored.predicted[name].append(predicted)
    if seconds is not None:
        scored.actual.append(seconds)
        count = served["duration"]
        count[row.duration_predictor] = count.get(row.duration_predictor, 0) + 1
        stored = [row.duration_p10, row.duration_p50, row.duration_p90]
        stored = [np.nan if v is None else float(v) for v in stored]
        for name, duration in DURATION_PREDICTORS.items():
            quantiles = list(duration.predict(features)[0])
            scored.quantiles[name].append(stored if name == row.duration_predictor else quantiles)
        if models is not None:
            quantiles = list(models.duration.predict(features)[0])
            scored.quantiles["model"].append(
                stored if row.duration_predictor == "model" else quantiles
            )


def _fallen(
    figures: dict[str, Figures], figure: str, baselines: tuple[str, ...], margin: float
) -> str | None:
    """The best baseline when the model's ``figure`` (higher is better) is below it by > margin."""
    model = figures.get("model", {}).get(figure)
    known = {n: figures[n][figure] for n in baselines if figures.get(n, {}).get(figure) is not None}
    if model is None or not known:
        return None
    best = max(known, key=lambda n: known[n] or 0.0)
    best_value = known[best] or 0.0
    return best if model < best_value - margin else None


def check_live_accuracy(
    conn: Connection, settings: Settings, now: datetime | None = None
) -> list[Demotion]:
    """Score live accuracy and demote the live model's figures that fell below a baseline.

    Failure is judged by F1 and duration by the share within ±20%, over at
    least ``intelligence.accuracy_min_runs`` scored runs; returns the
    demotions made now.
    """
    config = settings.intelligence
    live = registry.live_version(conn)
    if live is None:
        return []
    report = live_accuracy(conn, config.accuracy_days, now)
    made: list[Demotion] = []
    checks = (
        ("failure", live.failure_predictor, report.failure_runs, report.failure, "f1"),
        ("duration", live.duration_predictor, report.duration_runs, report.duration, "within_20"),
        ("job_failure", live.job_failure_predictor, report.jobs, report.job_failure, "f1"),
        (
            "job_duration",
            live.job_duration_predictor,
            report.job_duration_jobs,
            report.job_duration,
            "within_20",
        ),
    )
    baselines = {
        "failure": OUTCOME_BASELINES,
        "duration": DURATION_BASELINES,
        "job_failure": JOB_BASELINES,
        "job_duration": JOB_DURATION_BASELINES,
    }
    for figure, serving, runs, figures, name in checks:
        if serving != "model" or runs < config.accuracy_min_runs:
            continue
        baseline = _fallen(figures, name, baselines[figure], config.demote_margin)
        if baseline is None:
            continue
        serves = "baselines" if figure == "job_failure" else baseline
        registry.set_predictor(conn, live.version, figure, serves)
        made.append(Demotion(live.version, figure, serves))
        log.warning(
            "model_demoted",
            version=live.version,
            figure=figure,
            baseline=serves,
            model=figures["model"][name],
            best=figures[baseline][name],
            margin=config.demote_margin,
        )
    return made


def demotions(conn: Connection) -> list[Demotion]:
    """The live version's figures served by a baseline though its evaluation chose the model."""
    live = registry.live_version(conn)
    if live is None:
        return []
    chosen = registry.chosen_predictors(live)
    found = []
    if chosen.failure == "model" and live.failure_predictor != "model":
        found.append(Demotion(live.version, "failure", live.failure_predictor))
    if chosen.duration == "model" and live.duration_predictor != "model":
        found.append(Demotion(live.version, "duration", live.duration_predictor))
    jobs_chosen = registry.job_failure_predictor(live.report)
    if jobs_chosen == "model" and live.job_failure_predictor == "baselines":
        found.append(Demotion(live.version, "job_failure", "baselines"))
    timed = registry.job_duration_predictor(live.report)
    if timed == "model" and live.job_duration_predictor not in (None, "model"):
        found.append(Demotion(live.version, "job_duration", live.job_duration_predictor))
    return found
