"""Serving predictions: for a stored run, for a hypothetical one, and on new runs from webhooks.

Features come from ``features.RepositoryHistory`` over the stored history
of the run's repository up to its request, the same code that training uses:
kept per repository between predictions and brought up to date from what
changed (``state.FeatureState``), else replayed in full. The live version's
models predict; for each figure the predictor chosen on that version's
evaluation serves (the model or a baseline), and with no version trained yet
the baselines serve. The failure probability shown comes from the predictor
better on the probability figures (Brier score, then ROC AUC) and the
pass/fail decision from the one better on F1 (``selection``), with the
reason for the decision in words; risk factors explain the probability
shown: the model's per-prediction contributions where it gives it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog
from sqlalchemy import Connection, Engine, select

from controltower.config import Settings
from controltower.intelligence import registry
from controltower.intelligence.baselines import (
    AlwaysPass,
    MedianOfFive,
    PreviousDuration,
    PreviousOutcome,
)
from controltower.intelligence.capability import prediction_mode
from controltower.intelligence.features import featurize
from controltower.intelligence.job_serving import (
    predict_jobs_for_run,
    predict_jobs_hypothetical,
    record_job_predictions,
)
from controltower.intelligence.jobs import JobPrediction, RunBound
from controltower.intelligence.predictors import DurationPredictor, Matrix, OutcomePredictor
from controltower.intelligence.reasons import decision, duration_words, risk_words
from controltower.intelligence.records import HistoryRun, request_order
from controltower.intelligence.rollout import exposure
from controltower.intelligence.source import repository_history, run_key, run_pk_of
from controltower.intelligence.state import FeatureState
from controltower.store.tables import Prediction, table_of
from controltower.store.upsert import insert_for

if TYPE_CHECKING:
    from controltower.intelligence.job_duration import JobDurationModel
    from controltower.intelligence.job_model import JobFailureModel

log = structlog.get_logger(__name__)
predictions_t = table_of(Prediction)
OUTCOME_BASELINES: dict[str, OutcomePredictor] = {
    "previous": PreviousOutcome(),
    "always_pass": AlwaysPass(),
}
DURATION_BASELINES: dict[str, DurationPredictor] = {
    "previous": PreviousDuration(),
    "median5": MedianOfFive(),
}
# Versions' models loaded in this process: the live one and those of the last weeks' predictions.
LOADED = registry.LoadedVersions(size=16)
# Feature state of the repositories predicted in this process.
FEATURE_STATE = FeatureState()


@dataclass(frozen=True, slots=True)
class RunPrediction:
    """What is predicted for one run, and which predictor served each figure.

    ``failure_predictor`` decided pass or fail (``failure_reason`` says why),
    ``probability_predictor`` gave the probability, which the risk factors explain;
    ``duration_factors`` say what moved the duration model's median from the median of
    five (none where a baseline gave the durations).
    """

    failure_probability: float | None
    failure_predicted: bool | None
    failure_predictor: str
    probability_predictor: str
    failure_reason: str | None
    duration_p10: float | None
    duration_p50: float | None
    duration_p90: float | None
    duration_predictor: str
    risk_factors: list[str]
    version: int | None
    duration_factors: list[str] = field(default_factory=list)


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def live_models(conn: Connection) -> registry.LoadedModels | None:
    """The live version's models (loaded once per process and version), or None."""
    info = registry.live_version(conn)
    if info is None:
        return None
    models = LOADED.models(conn, info)
    # A version's predictors change when live accuracy demotes the model: read them each time.
    return replace(
        models,
        failure_predictor=info.failure_predictor,
        duration_predictor=info.duration_predictor,
        job_failure_predictor=info.job_failure_predictor,
        job_duration_predictor=info.job_duration_predictor,
    )


def version_models(conn: Connection, number: int) -> registry.LoadedModels:
    """Version ``number``'s models (kept loaded while among the versions used last, ``LOADED``);
    ``ModelVersionNotFound`` when there is none."""
    return LOADED.models(conn, registry.version(conn, number))


def predict_row(models: registry.LoadedModels | None, row: Matrix) -> RunPrediction:
    """The prediction for one feature row (shape 1 x features)."""
    failure_name = models.failure_predictor if models else "previous"
    probability_name = models.probability_predictor if models else "previous"
    duration_name = models.duration_predictor if models else "median5"
    if models is not None and probability_name == "model":
        probability = float(models.failure.predict_proba(row)[0])
    else:
        probability = float(OUTCOME_BASELINES[probability_name].predict_proba(row)[0])
    predicted, reason = decision(models, failure_name, row)
    quantiles = np.full(3, np.nan)
    if models is not None and duration_name == "model":
        quantiles = models.duration.predict(row)[0]
    if math.isnan(quantiles[1]):
        duration_name = "median5" if duration_name == "model" else duration_name
        quantiles = DURATION_BASELINES[duration_name].predict(row)[0]
    return RunPrediction(
        failure_probability=_number(probability),
        failure_predicted=predicted,
        failure_predictor=failure_name,
        probability_predictor=probability_name,
        failure_reason=reason,
        duration_p10=_number(quantiles[0]),
        duration_p50=_number(quantiles[1]),
        duration_p90=_number(quantiles[2]),
        duration_predictor=duration_name,
        risk_factors=risk_words(models, probability_name, row),
        version=models.version if models else None,
        duration_factors=duration_words(
            models.duration if models is not None and duration_name == "model" else None, row
        ),
    )


def _row_of(history: Sequence[HistoryRun], target: HistoryRun) -> Matrix:
    runs = [r for r in history if (r.run_id, r.attempt) != (target.run_id, target.attempt)]
    ordered = request_order([*runs, target])
    rows = featurize(ordered)
    at = next(i for i, r in enumerate(ordered) if r is target)
    return rows[at : at + 1]


def replayed_row(conn: Connection, run_pk: int) -> Matrix | None:
    """The feature row of stored run ``run_pk`` by a full replay of its repository's history."""
    key = run_key(conn, run_pk)
    if key is None:
        return None
    repository, run_id, attempt, created = key
    history = repository_history(conn, repository, until=created)
    target = next(r for r in history if r.run_id == run_id and r.attempt == attempt)
    return _row_of(history, target)


def feature_row(conn: Connection, run_pk: int) -> Matrix | None:
    """The feature row of stored run ``run_pk`` at its request (None: no such run)."""
    key = run_key(conn, run_pk)
    if key is None:
        return None
    row = FEATURE_STATE.row(conn, key[0], key[1], key[2])
    return replayed_row(conn, run_pk) if row is None else np.asarray([row], dtype=np.float64)


def job_model_of(models: registry.LoadedModels | None) -> JobFailureModel | None:
    """The version's job model where its evaluation chose it to serve, else None."""
    if models is None or models.job_failure_predictor != "model":
        return None
    return models.job_failure


def job_duration_model_of(models: registry.LoadedModels | None) -> JobDurationModel | None:
    """The version's job duration model where its evaluation chose it to serve, else None."""
    if models is None or models.job_duration_predictor != "model":
        return None
    return models.job_duration


def predict_for_run(conn: Connection, run_pk: int) -> RunPrediction | None:
    """The prediction for stored run ``run_pk`` from what had completed when it was requested."""
    row = feature_row(conn, run_pk)
    return None if row is None else predict_row(live_models(conn), row)


def hypothetical_row(conn: Connection, run: HistoryRun) -> Matrix:
    """The feature row of a run requested now that is not stored (``run.created`` is now)."""
    kept = FEATURE_STATE.hypothetical_row(conn, run)
    if kept is not None:
        return np.asarray([kept], dtype=np.float64)
    return _row_of(repository_history(conn, run.repository), run)


def predict_hypothetical(
    conn: Connection, run: HistoryRun
) -> tuple[RunPrediction, list[JobPrediction]]:
    """The prediction for a run requested now that is not stored, and for its expected jobs.

    ``run.created`` is now; the jobs are predicted as a stored run's are.
    """
    assert run.created is not None, "a hypothetical run is requested now"
    row = hypothetical_row(conn, run)
    models = live_models(conn)
    at = datetime.fromtimestamp(run.created, UTC)
    prediction = predict_row(models, row)
    jobs = predict_jobs_hypothetical(
        conn,
        run.repository,
        run.workflow,
        at,
        row,
        job_model_of(models),
        job_duration_model_of(models),
        RunBound.of(prediction),
    )
    return prediction, jobs


def record_prediction(
    conn: Connection, run_pk: int, prediction: RunPrediction, *, mode: str, shown: bool
) -> bool:
    """Store the prediction of a run unless it has one; return whether it was stored."""
    values: dict[str, Any] = asdict(prediction)
    values["version_id"] = values.pop("version")
    stmt = insert_for(conn, predictions_t).values(
        run_pk=run_pk, created_at=datetime.now(UTC), mode=mode, shown=shown, **values
    )
    result = conn.execute(stmt.on_conflict_do_nothing(index_elements=["run_pk"]))
    return bool(result.rowcount)


def stored_prediction(conn: Connection, run_pk: int) -> dict[str, Any] | None:
    """The stored prediction of a run, as a dict of its columns."""
    row = conn.execute(select(predictions_t).where(predictions_t.c.run_pk == run_pk)).first()
    return None if row is None else dict(row._mapping)


@dataclass(frozen=True, slots=True)
class ShownPrediction:
    """A run's stored prediction as its page shows it, and how it compared once completed.

    ``within_interval`` and ``outcome_as_predicted`` are None until the run
    has completed (and, for duration, passed with a known duration: the
    protocol scores durations of successful runs only).
    """

    prediction: dict[str, Any]
    completed: bool
    failed: bool | None
    within_interval: bool | None
    duration_error: float | None
    outcome_as_predicted: bool | None


def compare(
    prediction: dict[str, Any],
    status: str,
    conclusion: str | None,
    duration_s: float | None,
) -> ShownPrediction:
    """How the run went against ``prediction`` (stored columns), as far as it is known."""
    actual = HistoryRun(
        repository="", run_id="", status=status, conclusion=conclusion, duration_s=duration_s
    )
    failed = actual.failed
    seconds = actual.success_duration
    within = error = None
    low, mid, high = (prediction[f"duration_p{q}"] for q in (10, 50, 90))
    if seconds is not None and low is not None and high is not None:
        within = bool(low <= seconds <= high)
    if seconds is not None and mid is not None:
        error = (mid - seconds) / max(seconds, 1.0)
    as_predicted = None
    if failed is not None and prediction["failure_predicted"] is not None:
        as_predicted = bool(prediction["failure_predicted"]) == failed
    return ShownPrediction(
        prediction=prediction,
        completed=status == "completed",
        failed=failed,
        within_interval=within,
        duration_error=error,
        outcome_as_predicted=as_predicted,
    )


def shown_prediction(
    conn: Connection,
    run_pk: int,
    status: str,
    conclusion: str | None,
    duration_s: float | None,
) -> ShownPrediction | None:
    """The run's stored prediction with how it compared, or None where it has none.

    Whether it is shown is the rollout's decision now (``shows_now``), not the
    one recorded when it was made (``shown``: the mode may have changed since).
    """
    stored = stored_prediction(conn, run_pk)
    if stored is None:
        return None
    return compare(stored, status, conclusion, duration_s)


def shows_now(conn: Connection, settings: Settings, repository: str, run_id: str) -> bool:
    """Whether a stored run's prediction is shown now: the mode in force now (and the kill
    switches) and, in canary, whether the run is in the canary."""
    mode = prediction_mode(conn, settings).mode
    return exposure(settings, repository, run_id, mode).show


def predict_new_runs(
    engine: Engine, settings: Settings, keys: Sequence[tuple[str, str, int]]
) -> int:
    """Predict and store runs just seen requested or queued; return how many were stored.

    Each run is predicted once, when first seen; the prediction mode now
    (``capability``) and the rollout settings decide whether it is predicted
    and whether its prediction is shown.
    """
    stored = 0
    mode = prediction_mode(engine, settings).mode
    for repository, run_id, attempt in dict.fromkeys(keys):
        decided = exposure(settings, repository, run_id, mode)
        if not decided.predict:
            continue
        with engine.begin() as conn:
            pk = run_pk_of(conn, repository, run_id, attempt)
            if pk is None or stored_prediction(conn, pk) is not None:
                continue
            row = feature_row(conn, pk)
            if row is None:
                continue
            models = live_models(conn)
            prediction = predict_row(models, row)
            stored += record_prediction(conn, pk, prediction, mode=mode, shown=decided.show)
            job_model, job_duration = job_model_of(models), job_duration_model_of(models)
            bound = RunBound.of(prediction)
            predicted = predict_jobs_for_run(conn, pk, row, job_model, job_duration, bound)
            record_job_predictions(conn, pk, predicted)
        log.info(
            "run_predicted",
            repository=repository,
            run=run_id,
            attempt=attempt,
            shown=decided.show,
            reason=decided.reason,
            failure=prediction.failure_probability,
            duration=prediction.duration_p50,
        )
    return stored
