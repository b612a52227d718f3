"""The per-job failure model: a run's features beside the history of each job it is expected to run.

A job's row is its run's model inputs (``features.FEATURES``, the columns the
run model reads) followed by the job's ``jobs.JOB_FEATURES`` at the run's
request. ``job_table`` streams a history through ``jobs.JobHistory`` in
request order, as evaluation and training do; serving builds the same row
from the run's feature row and the job history up to its request
(``job_serving``). The model is the run model's classifier on these rows
(LightGBM, Platt scaling, F1-best threshold on the calibration slice) with
the threshold alone deciding: a job's previous outcome, unlike a run's, is
that of any branch, a weak predictor on the validation runs (precision 0.38
against the model's 0.80, ``docs/evaluation.md``), so it does not join the
decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

import numpy as np
import numpy.typing as npt

from controltower.intelligence.jobs import (
    JOB_INPUTS,
    JobAttempt,
    JobHistory,
    JobPrediction,
    job_rows,
    ran_as,
)
from controltower.intelligence.models import FailureModel
from controltower.intelligence.predictors import Labelled, Matrix, Vector
from controltower.intelligence.records import HistoryRun, request_times

RunKey = tuple[str, str, int]
Mask = npt.NDArray[np.bool_]


class JobFailureModel(FailureModel):
    """The failure classifier on job rows (``JOB_INPUTS``), deciding by threshold alone."""

    kind = "job_failure_model"
    features = JOB_INPUTS
    streak_rule = False

    def model_inputs(self, rows: Matrix) -> Matrix:
        """Job rows are the booster's inputs as they are."""
        return rows


@dataclass(frozen=True, slots=True)
class JobTable:
    """Every expected job of a history's runs, in request order, with how it went.

    ``ran`` is the job that ran as the expected one (``jobs.ran_as``: of that
    name, or of its family of caller and reusable workflow's jobs; None: it
    did not run), ``failed`` its outcome (NaN: neither failed nor passed, or
    it did not run), ``predictions`` what ``JobHistory`` predicts for it
    without a model, ``run_index`` its run's position in the runs given.
    """

    rows: Matrix
    failed: Vector
    run_index: npt.NDArray[np.int64]
    repositories: list[str]
    predictions: list[JobPrediction]
    ran: list[JobAttempt | None]


def job_table(
    runs: Sequence[HistoryRun], run_rows: Matrix, jobs: Mapping[RunKey, Sequence[JobAttempt]]
) -> JobTable:
    """The ``JobTable`` of ``runs`` (in ``request_order``), ``run_rows`` their feature rows."""
    blocks: list[Matrix] = []
    index: list[int] = []
    repositories: list[str] = []
    predictions: list[JobPrediction] = []
    ran: list[JobAttempt | None] = []
    at = 0
    for repository, group in groupby(runs, key=lambda r: r.repository):
        ordered = list(group)
        history = JobHistory()
        for run, t in zip(ordered, request_times(ordered), strict=True):
            own = jobs.get((run.repository, run.run_id, run.attempt), ())
            history.advance(t)
            expected = history.features(run.workflow)
            if expected:
                actual = {j.name: j for j in reversed(own)}
                blocks.append(job_rows(run_rows[at], expected))
                predictions.extend(history.predict(run.workflow))
                ran.extend(ran_as(name, actual) for name, _ in expected)
                index.extend([at] * len(expected))
                repositories.extend([repository] * len(expected))
            history.hold(run, t, own)
            at += 1
    failed = np.array(
        [np.nan if j is None or j.failed is None else float(j.failed) for j in ran],
        dtype=np.float64,
    )
    rows = np.vstack(blocks) if blocks else np.empty((0, len(JOB_INPUTS)))
    return JobTable(rows, failed, np.array(index, dtype=np.int64), repositories, predictions, ran)


def fit_job_model(
    table: JobTable, fitting: Mask, validation: Mask, *, seed: int = 0, threads: int = 2
) -> JobFailureModel | None:
    """The job model fitted on the jobs of ``fitting`` runs, calibrated on ``validation``'s.

    None when the fitting jobs do not include both a failure and a pass.
    """
    known = ~np.isnan(table.failed)
    fit = known & fitting[table.run_index]
    check = known & validation[table.run_index]
    if len(set(table.failed[fit].tolist())) < 2:
        return None
    model = JobFailureModel(seed=seed, threads=threads)
    model.fit(
        Labelled(table.rows[fit], table.failed[fit]),
        Labelled(table.rows[check], table.failed[check]),
    )
    return model
