"""Retraining: fit the models on the whole stored history, evaluate them, register a version.

The evaluation follows the protocol (``evaluation.evaluate``) on the same
history, so the report stored with the version says, figure by figure,
whether the model beat the baselines; the live predictor of each figure is
chosen from it when the version is registered. Where jobs are stored, the
job model is trained and scored too (``job_evaluation``), its report kept
under ``jobs``.
"""

from __future__ import annotations

import structlog
from sqlalchemy import Engine

from controltower.errors import NoHistory
from controltower.intelligence import registry
from controltower.intelligence.evaluation import evaluate
from controltower.intelligence.features import Featurized
from controltower.intelligence.job_evaluation import evaluate_jobs
from controltower.intelligence.job_serving import stored_jobs
from controltower.intelligence.source import stored_history
from controltower.intelligence.training import train

log = structlog.get_logger(__name__)


def retrain(
    engine: Engine, *, promote: bool = True, seed: int = 0, threads: int = 2
) -> registry.VersionInfo:
    """Train on every stored run, register the version, and make it live if ``promote``."""
    history = list(stored_history(engine))
    if not history:
        raise NoHistory("no run history to train on: import or collect runs first")
    with engine.connect() as conn:
        jobs = stored_jobs(conn)
    data = Featurized.of(history)  # ordered and featurized once for the three uses below
    trained = train(data, jobs=jobs, seed=seed, threads=threads)
    report = evaluate(data, seed=seed)
    report["jobs"] = evaluate_jobs(data, jobs, seed=seed) if jobs else None
    with engine.begin() as conn:
        info = registry.register(conn, trained, report)
        if promote:
            info = registry.promote(conn, info.version)
    log.info(
        "models_trained",
        version=info.version,
        runs=trained.runs,
        status=info.status,
        failure=info.failure_predictor,
        duration=info.duration_predictor,
        job_failure=registry.job_failure_predictor(info.report),
    )
    return info
