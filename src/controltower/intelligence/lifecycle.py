"""Retraining: fit the models on the whole stored history, evaluate them, register a version.

The evaluation follows the protocol (``evaluation.evaluate``) on the same
history, so the report stored with the version says, figure by figure,
whether the model beat the baselines; the live predictor of each figure is
chosen from it when the version is registered. Where jobs are stored, the
job models are trained and scored too (``job_evaluation``), their report
kept under ``jobs``.

The worker's daily training never overrides an operator: while the live
version was made live by ``model promote`` or ``model rollback`` (or their
API), it only registers a candidate; otherwise it promotes the new version
with every figure live accuracy demoted still served by its baseline.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

import structlog
from sqlalchemy import Connection, Engine

from controltower.errors import NoHistory
from controltower.intelligence import records, registry
from controltower.intelligence.accuracy import demotions
from controltower.intelligence.evaluation import evaluate, outcome_predictors
from controltower.intelligence.features import Featurized
from controltower.intelligence.job_evaluation import evaluate_jobs
from controltower.intelligence.job_serving import stored_jobs
from controltower.intelligence.models import FailureModel
from controltower.intelligence.source import stored_history
from controltower.intelligence.training import train

log = structlog.get_logger(__name__)


def retrain(
    engine: Engine,
    *,
    promote: bool = True,
    scheduled: bool = False,
    seed: int = 0,
    threads: int = 2,
    as_of: datetime | None = None,
) -> registry.VersionInfo:
    """Train on every stored run, register the version, and make it live if ``promote``.

    ``scheduled`` (the worker's daily training) promotes only where no
    operator chose the live version, and carries the live version's
    demotions over to the new one (``_promote_scheduled``). With ``as_of``,
    on the history as it stood then (``records.as_of``): the runs requested
    by then, those that ended later still going on, and the jobs of the runs
    that had ended.
    """
    history = list(stored_history(engine))
    if as_of is not None:
        history = records.as_of(history, as_of.timestamp())
    if not history:
        raise NoHistory("no run history to train on: import or collect runs first")
    with engine.connect() as conn:
        jobs = stored_jobs(conn)
    if as_of is not None:
        ended = {(r.repository, r.run_id, r.attempt) for r in history if r.status == "completed"}
        jobs = {key: found for key, found in jobs.items() if key in ended}
    data = Featurized.of(history)  # ordered and featurized once for the three uses below
    trained = train(data, jobs=jobs, seed=seed, threads=threads)
    # the run failure model the evaluation fits on its split, which the job report holds jobs to
    run_model = FailureModel(seed=seed)
    report = evaluate(data, seed=seed, outcome=partial(outcome_predictors, model=run_model))
    report["jobs"] = evaluate_jobs(data, jobs, seed=seed, run_model=run_model) if jobs else None
    if as_of is not None:
        report["history_as_of"] = as_of.isoformat()
    with engine.begin() as conn:
        info = registry.register(conn, trained, report)
        if promote and scheduled:
            info = _promote_scheduled(conn, info)
        elif promote:
            info = registry.promote(conn, info.version, by=registry.TRAINING)
    log.info(
        "models_trained",
        version=info.version,
        runs=trained.runs,
        status=info.status,
        failure=info.failure_predictor,
        duration=info.duration_predictor,
        job_failure=registry.job_failure_predictor(info.report),
        job_duration=info.job_duration_predictor,
    )
    return info


def _promote_scheduled(conn: Connection, info: registry.VersionInfo) -> registry.VersionInfo:
    """Make a version trained on schedule live, unless an operator chose the live version.

    A figure live accuracy demoted on the live version stays on its baseline
    in the new one: the new model's live figures are not known yet, and only
    an operator's promotion (or ``model train``) starts afresh.
    """
    live = registry.live_version(conn)
    if live is not None and live.chosen_by_operator:
        log.info("training_kept_operator_choice", live=live.version, candidate=info.version)
        return info
    carried = demotions(conn)
    promoted = registry.promote(conn, info.version, by=registry.TRAINING)
    chosen = {
        "failure": promoted.failure_predictor,
        "duration": promoted.duration_predictor,
        "job_failure": promoted.job_failure_predictor,
        "job_duration": promoted.job_duration_predictor,
    }
    for demotion in carried:
        if chosen[demotion.figure] != "model":
            continue
        registry.set_predictor(conn, info.version, demotion.figure, demotion.predictor)
        log.warning(
            "demotion_carried_over",
            figure=demotion.figure,
            predictor=demotion.predictor,
            demoted=demotion.version,
            version=info.version,
        )
    return registry.version(conn, info.version)
