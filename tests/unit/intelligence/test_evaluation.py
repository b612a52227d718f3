"""The evaluation protocol's split: the last quarter tests, the models learn from the past."""

from __future__ import annotations

import numpy as np
import pytest

from controltower.intelligence.baselines import AlwaysPass, MedianOfFive, PreviousOutcome
from controltower.intelligence.evaluation import evaluate, split, validation_split
from controltower.intelligence.features import Featurized, featurized
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


def test_validation_split_scores_the_validation_slice_and_never_reads_the_test_period() -> None:
    """The validation slice is scored; learning runs completed before it; test runs unused."""
    runs = request_order(synthetic_history(repositories=1, runs=100))
    outer, inner = split(runs), validation_split(runs)
    times = request_times(runs)
    assert (inner.test == outer.validation).all()
    learned = np.flatnonzero(inner.fitting | inner.validation)
    first = int(np.flatnonzero(inner.test)[0])
    assert all(known_at(runs[i], times[i]) < times[first] for i in learned)
    assert not ((inner.fitting | inner.validation | inner.test) & outer.test).any()
    assert inner.validation[learned].sum() == np.ceil(len(learned) * 0.2)
    assert max(np.flatnonzero(inner.fitting)) < min(np.flatnonzero(inner.validation))


def test_evaluation_on_validation_says_so_and_scores_fewer_runs() -> None:
    """``on_validation`` scores the validation slice's runs and marks the report."""
    history = synthetic_history(repositories=2, runs=120)
    cheap = {
        "outcome": lambda _: [PreviousOutcome(), AlwaysPass()],
        "duration": lambda _: [MedianOfFive()],
    }
    test = evaluate(history, **cheap)  # type: ignore[arg-type]
    validation = evaluate(history, on_validation=True, **cheap)  # type: ignore[arg-type]
    parts = validation_split(request_order(history))
    assert "scored_on" not in test
    assert validation["scored_on"] == "validation"
    assert validation["test_runs"] == int(parts.test.sum()) < test["test_runs"]


def test_the_report_gives_the_models_margin_over_the_better_baseline_on_each_compared_figure() -> (
    None
):
    """Margins are the report's own figures' differences, with an interval around them."""
    history = synthetic_history(repositories=2, runs=160)
    report = evaluate(history, seed=0)
    for section, names in (("outcome", ("f1", "auc", "brier")), ("duration", ("mdape",))):
        for way in ("pooled", "mean_over_repositories"):
            figures = report[section][way]
            for name in names:
                margin = report["margins"][section][way][name]
                against = margin["against"]
                assert against in figures
                assert against != "model"
                expected = figures["model"][name] - figures[against][name]
                assert margin["difference"] == pytest.approx(expected)
                assert margin["low"] <= margin["high"]
    assert "coverage_80" not in report["margins"]["duration"]["pooled"]
    assert report["margins"]["outcome"]["pooled"]["f1"]["against"] == (
        "previous"
        if report["outcome"]["pooled"]["previous"]["f1"]
        >= report["outcome"]["pooled"]["always_pass"]["f1"]
        else "always_pass"
    )


def test_a_history_featurized_once_evaluates_as_the_history_itself() -> None:
    """``model train`` orders and featurizes once for training and both evaluations."""
    history = synthetic_history(repositories=2, runs=120)
    data = Featurized.of(history)
    assert featurized(data) is data
    assert data.runs == request_order(history)
    assert evaluate(data, seed=0) == evaluate(history, seed=0)
