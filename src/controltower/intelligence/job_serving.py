"""Per-job predictions of a stored run: made and stored with the run's, read back beside the jobs.

The jobs' history is read for the run's workflow only, its last ``WINDOW``
runs requested before the run (bounded, whatever the history's size), and
fed to ``jobs.JobHistory`` in request order so only jobs of runs completed by
the request count. Where the live version's job model serves (its evaluation
chose it), the jobs' failure figures are the model's, from the run's feature
row and each job's record (``jobs.job_rows``); otherwise the job's recent
failure share and previous outcome. Where its job duration model serves,
the jobs' durations are that model's (``job_duration``: its p50, and the
job's conformal interval around the median of five where it has one);
otherwise the median of five with that interval.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, Connection, and_, select

from controltower.intelligence.explain import risk_factors
from controltower.intelligence.jobs import (
    JOB_INPUTS,
    JobAttempt,
    JobHistory,
    JobPrediction,
    RunBound,
    duration_rows,
    held_to_run,
    job_rows,
    ran_as,
)
from controltower.intelligence.records import request_order, request_times
from controltower.intelligence.source import history_query, history_run
from controltower.store.tables import Job, Repository, Workflow, WorkflowRun, table_of
from controltower.store.tables import JobPrediction as JobPredictionRow
from controltower.store.upsert import insert_for

if TYPE_CHECKING:
    from controltower.intelligence.job_duration import JobDurationModel
    from controltower.intelligence.job_model import JobFailureModel

WINDOW = 40
# Risk factors told per job: the run's own are told beside them.
JOB_FACTORS = 2
runs_t, jobs_t, job_predictions_t = table_of(WorkflowRun), table_of(Job), table_of(JobPredictionRow)
repos_t, workflows_t = table_of(Repository), table_of(Workflow)


def _jobs_of(conn: Connection, pks: list[int]) -> dict[int, list[JobAttempt]]:
    c = jobs_t.c
    query = (
        select(c.run_pk, c.name, c.conclusion, c.started_at, c.completed_at)
        .where(c.run_pk.in_(pks))
        .order_by(c.run_pk, c.id)
    )
    found: dict[int, list[JobAttempt]] = defaultdict(list)
    for pk, name, conclusion, started, completed in conn.execute(query):
        seconds = (completed - started).total_seconds() if started and completed else None
        found[pk].append(JobAttempt(name, conclusion, seconds))
    return found


def predict_jobs_for_run(
    conn: Connection,
    run_pk: int,
    run_row: npt.NDArray[np.float64] | None = None,
    model: JobFailureModel | None = None,
    duration: JobDurationModel | None = None,
    run: RunBound | None = None,
) -> list[JobPrediction]:
    """Predictions for the jobs stored run ``run_pk`` is expected to run (none: no job history).

    With ``model`` and the run's feature row ``run_row`` (shape 1 x columns),
    the failure figures are the model's, with its risk factors; with
    ``duration``, the durations are that model's.
    """
    found = _history_of_run(conn, run_pk)
    if found is None:
        return []
    history, workflow = found
    return _by_model(history, workflow, run_row, model, explain=True, duration=duration, run=run)


def baselines_and_model(
    conn: Connection,
    run_pk: int,
    run_row: npt.NDArray[np.float64],
    model: JobFailureModel | None,
    duration: JobDurationModel | None = None,
    run: RunBound | None = None,
) -> tuple[list[JobPrediction], list[JobPrediction]]:
    """For scoring: what the baselines and what ``model`` and ``duration`` predict for stored
    run ``run_pk``'s jobs (the latter empty without either), from one read of the history,
    no risk factors."""
    found = _history_of_run(conn, run_pk)
    if found is None:
        return [], []
    history, workflow = found
    modelled = (
        _by_model(history, workflow, run_row, model, explain=False, duration=duration, run=run)
        if model or duration
        else []
    )
    return history.predict(workflow), modelled


def predict_jobs_hypothetical(
    conn: Connection,
    repository: str,
    workflow: str,
    at: datetime,
    run_row: npt.NDArray[np.float64] | None = None,
    model: JobFailureModel | None = None,
    duration: JobDurationModel | None = None,
    run: RunBound | None = None,
) -> list[JobPrediction]:
    """Predictions for the jobs a run of ``workflow`` (by name) requested at ``at`` would run."""
    same = and_(repos_t.c.full_name == repository, workflows_t.c.name == workflow)
    found = _history(conn, same, at)
    if found is None:
        return []
    history, name = found
    return _by_model(history, name, run_row, model, explain=True, duration=duration, run=run)


def _history_of_run(conn: Connection, run_pk: int) -> tuple[JobHistory, str] | None:
    target = conn.execute(
        select(runs_t.c.workflow_id, runs_t.c.created_at).where(runs_t.c.id == run_pk)
    ).first()
    if target is None or target.created_at is None:
        return None
    return _history(conn, runs_t.c.workflow_id == target.workflow_id, target.created_at)


def _history(
    conn: Connection, same_workflow: ColumnElement[bool], at: datetime
) -> tuple[JobHistory, str] | None:
    """The workflow's job history up to ``at`` and its name (None: no run before ``at``)."""
    query = (
        history_query()
        .add_columns(runs_t.c.id)
        .where(same_workflow)
        .where(runs_t.c.created_at < at)
        .order_by(runs_t.c.created_at.desc())
        .limit(WINDOW)
    )
    rows = conn.execute(query).all()
    runs = {r[20]: history_run(r) for r in rows}
    jobs = _jobs_of(conn, list(runs))
    ordered = request_order(runs.values())
    pk_of = {id(run): pk for pk, run in runs.items()}
    history = JobHistory()
    for run, t in zip(ordered, request_times(ordered), strict=True):
        history.request(run, t, jobs.get(pk_of[id(run)], ()))
    history.advance(at.timestamp())
    return (history, ordered[0].workflow) if ordered else None


def _by_model(
    history: JobHistory,
    workflow: str,
    run_row: npt.NDArray[np.float64] | None,
    model: JobFailureModel | None,
    *,
    explain: bool,
    duration: JobDurationModel | None = None,
    run: RunBound | None = None,
) -> list[JobPrediction]:
    """The expected jobs' predictions, their failure figures the model's where there is one
    (held to the run model's, ``run``: ``jobs.held_to_run``) and their durations
    ``duration``'s where it is given."""
    predicted = history.predict(workflow)
    if (model is None and duration is None) or run_row is None or not predicted:
        return predicted
    inputs = job_rows(run_row[0], history.features(workflow))
    if duration is not None:
        predicted = _timed(predicted, inputs, duration)
    if model is None:
        return predicted
    probability, failed = model.predict_proba(inputs), model.predict(inputs)
    words: list[tuple[str, ...]] = [()] * len(predicted)
    if explain:
        pushes = model.contributions(inputs)
        words = [
            tuple(r.told for r in risk_factors(row, push, top=JOB_FACTORS, names=JOB_INPUTS))
            for row, push in zip(inputs, pushes, strict=True)
        ]
    held = [held_to_run(float(q), bool(f), run) for q, f in zip(probability, failed, strict=True)]
    return [
        replace(
            p,
            failure_probability=q,
            failure_predicted=f,
            failure_predictor="model",
            risk_factors=why,
        )
        for p, (q, f), why in zip(predicted, held, words, strict=True)
    ]


def _timed(
    predicted: list[JobPrediction], inputs: npt.NDArray[np.float64], model: JobDurationModel
) -> list[JobPrediction]:
    """The predictions with the duration model's p10, p50 and p90 (kept where it has none)."""
    quantiles = model.predict(duration_rows(inputs, predicted))
    return [
        p
        if np.isnan(q[1])
        else replace(
            p,
            duration_p10=None if np.isnan(q[0]) else float(q[0]),
            duration_p50=float(q[1]),
            duration_p90=None if np.isnan(q[2]) else float(q[2]),
            duration_predictor="model",
        )
        for p, q in zip(predicted, quantiles, strict=True)
    ]


def record_job_predictions(conn: Connection, run_pk: int, predicted: list[JobPrediction]) -> int:
    """Store the job predictions of a run unless it has them; return how many were stored."""
    if not predicted:
        return 0
    now = datetime.now(UTC)
    rows = [{**asdict(p), "run_pk": run_pk, "created_at": now} for p in predicted]
    for row in rows:
        row.pop("duration_previous")
        row["risk_factors"] = list(row["risk_factors"]) if row["risk_factors"] else None
    stmt = insert_for(conn, job_predictions_t).on_conflict_do_nothing(
        index_elements=["run_pk", "name"]
    )
    return int(conn.execute(stmt, rows).rowcount or 0)


@dataclass(frozen=True, slots=True)
class JobComparison:
    """One job's stored prediction beside how it went (actual None until known).

    ``actual_status`` is GitHub's status of the job that ran as it (queued,
    in_progress, completed; None: none of its family is listed yet).
    """

    name: str
    duration_p10: float | None
    duration_p50: float | None
    duration_p90: float | None
    failure_probability: float | None
    failure_predicted: bool | None
    failure_predictor: str | None
    risk_factors: list[str]
    actual_conclusion: str | None
    actual_duration_s: float | None
    actual_status: str | None = None
    # what gave the durations: ``model`` or ``median5`` (also where stored before it was kept)
    duration_predictor: str = "median5"


def _listed(conn: Connection, run_pk: int) -> dict[str, tuple[JobAttempt, str | None]]:
    """The jobs of run ``run_pk`` by name (the first of a name), each with its status."""
    c = jobs_t.c
    query = (
        select(c.name, c.status, c.conclusion, c.started_at, c.completed_at)
        .where(c.run_pk == run_pk)
        .order_by(c.id.desc())
    )
    found: dict[str, tuple[JobAttempt, str | None]] = {}
    for name, status, conclusion, started, completed in conn.execute(query):
        seconds = (completed - started).total_seconds() if started and completed else None
        found[name] = (JobAttempt(name, conclusion, seconds), status)
    return found


def job_comparisons(conn: Connection, run_pk: int) -> list[JobComparison]:
    """The stored job predictions of a run, each beside the job of its family that ran
    (``jobs.ran_as``)."""
    c = job_predictions_t.c
    stored = conn.execute(select(job_predictions_t).where(c.run_pk == run_pk).order_by(c.id))
    actual = _listed(conn, run_pk)
    out = []
    for row in stored:
        job, status = ran_as(row.name, actual) or (None, None)
        out.append(
            JobComparison(
                name=row.name,
                duration_p10=row.duration_p10,
                duration_p50=row.duration_p50,
                duration_p90=row.duration_p90,
                failure_probability=row.failure_probability,
                failure_predicted=row.failure_predicted,
                failure_predictor=row.failure_predictor,
                risk_factors=list(row.risk_factors or ()),
                actual_conclusion=job.conclusion if job else None,
                actual_duration_s=job.duration_s if job else None,
                actual_status=status,
                duration_predictor=row.duration_predictor or "median5",
            )
        )
    return out


def stored_jobs(conn: Connection) -> dict[tuple[str, str, int], list[JobAttempt]]:
    """Every stored job as a ``JobAttempt``, by (repository, run id, attempt)."""
    c = jobs_t.c
    query = (
        select(
            repos_t.c.full_name,
            runs_t.c.run_id,
            runs_t.c.attempt,
            c.name,
            c.conclusion,
            c.started_at,
            c.completed_at,
        )
        .join(runs_t, runs_t.c.id == c.run_pk)
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .order_by(c.run_pk, c.id)
    )
    found: dict[tuple[str, str, int], list[JobAttempt]] = defaultdict(list)
    for repo, run_id, attempt, name, conclusion, started, completed in conn.execute(query):
        seconds = (completed - started).total_seconds() if started and completed else None
        found[(repo, run_id, attempt)].append(JobAttempt(name, conclusion, seconds))
    return found
