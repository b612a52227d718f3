"""The evaluation protocol's split: the last quarter tests, the models learn from the past."""

from __future__ import annotations

import numpy as np

from controltower.intelligence.evaluation import split
from controltower.intelligence.records import known_at, request_order, request_times
from tests.support.histories import synthetic_history


def test_the_last_quarter_of_each_repository_is_the_test_set() -> None:
    """100 runs in each of two repositories: runs 75-99 of each are test runs."""
    runs = request_order(synthetic_history(runs=100))
    parts = split(runs)
    assert parts.test.sum() == 50
    assert all(parts.test[i] == (i % 100 >= 75) for i in range(200))


def test_models_learn_only_from_runs_completed_before_the_first_test_run() -> None:
    """Every fitting or validation run had completed before its repository's first test run."""
    runs = request_order(synthetic_history(repositories=1, runs=100))
    parts = split(runs)
    times = request_times(runs)
    learned = np.flatnonzero(parts.fitting | parts.validation)
    assert all(known_at(runs[i], times[i]) < times[75] for i in learned)
    assert not (parts.fitting & parts.validation).any()
    assert parts.validation[learned].sum() == np.ceil(len(learned) * 0.2)
    assert max(np.flatnonzero(parts.fitting)) < min(np.flatnonzero(parts.validation))
