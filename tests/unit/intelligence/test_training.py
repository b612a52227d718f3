"""Training on a whole history gives models that predict every run."""

from __future__ import annotations

import numpy as np

from controltower.intelligence.features import featurize
from controltower.intelligence.job_model import job_table
from controltower.intelligence.records import request_order
from controltower.intelligence.training import train
from tests.support.histories import synthetic_history, synthetic_jobs


def test_training_on_a_history_predicts_probabilities_and_ordered_quantiles() -> None:
    """Probabilities within [0, 1]; p10 <= p50 <= p90 for every run."""
    runs = request_order(synthetic_history(runs=200))
    trained = train(runs, threads=1)
    rows = featurize(runs)
    probability = trained.failure.predict_proba(rows)
    quantiles = trained.duration.predict(rows)
    assert trained.runs == 400
    assert ((probability >= 0) & (probability <= 1)).all()
    assert (np.diff(quantiles, axis=1) >= 0).all()


def test_with_jobs_a_job_model_learns_from_them_and_without_none() -> None:
    """The job model is fitted on the jobs of the same runs; a history without jobs has none."""
    runs = request_order(synthetic_history(runs=200))
    jobs = synthetic_jobs(runs)
    trained = train(runs, jobs=jobs, threads=1)
    assert trained.job_failure is not None
    table = job_table(runs, featurize(runs), jobs)
    probability = trained.job_failure.predict_proba(table.rows)
    assert ((probability >= 0) & (probability <= 1)).all()
    known = ~np.isnan(table.failed)
    failed = table.failed[known] > 0.5
    assert probability[known][failed].mean() > probability[known][~failed].mean()
    assert train(runs, threads=1).job_failure is None
