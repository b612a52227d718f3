"""Training on a whole history gives models that predict every run."""

from __future__ import annotations

import numpy as np

from controltower.intelligence.features import featurize
from controltower.intelligence.records import request_order
from controltower.intelligence.training import train
from tests.support.histories import synthetic_history


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
