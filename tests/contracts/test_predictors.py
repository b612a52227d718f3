"""Every predictor, model or baseline, keeps the same contract.

Same seed, same output; inputs never mutated; the saved form loads into the
same predictions; and predictions for the past do not move when the future
is shuffled.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pytest

from controltower.intelligence.baselines import (
    AlwaysPass,
    MedianOfFive,
    PreviousDuration,
    PreviousOutcome,
    baseline_from_dict,
)
from controltower.intelligence.duration import DurationModel
from controltower.intelligence.features import featurize
from controltower.intelligence.job_duration import (
    JobDurationModel,
    job_durations,
    table_duration_rows,
)
from controltower.intelligence.job_model import JobFailureModel, job_table
from controltower.intelligence.models import FailureModel
from controltower.intelligence.predictors import Labelled, Matrix
from controltower.intelligence.records import HistoryRun, request_order
from tests.support.histories import T0, synthetic_history, synthetic_jobs
from tests.unit.intelligence.test_features import _alter_future

Factory = Callable[[int], Any]
OUTCOME: dict[str, Factory] = {
    "failure_model": lambda seed: FailureModel(seed=seed, rounds=25),
    "job_failure_model": lambda seed: JobFailureModel(seed=seed, rounds=25),
    "previous_outcome": lambda _: PreviousOutcome(),
    "always_pass": lambda _: AlwaysPass(),
}
DURATION: dict[str, Factory] = {
    "duration_model": lambda seed: DurationModel(seed=seed, rounds=25),
    "job_duration_model": lambda seed: JobDurationModel(seed=seed, rounds=25),
    "previous_duration": lambda _: PreviousDuration(),
    "median5_duration": lambda _: MedianOfFive(),
}
ALL = {**OUTCOME, **DURATION}
CUTOFF = T0 + 120 * 1800


def _load(saved: dict[str, Any]) -> Any:
    kind = saved["kind"]
    if kind == "failure_model":
        return FailureModel.from_dict(saved)
    if kind == "job_failure_model":
        return JobFailureModel.from_dict(saved)
    if kind == "duration_model":
        return DurationModel.from_dict(saved)
    if kind == "job_duration_model":
        return JobDurationModel.from_dict(saved)
    return baseline_from_dict(saved)


def _data(runs: list[HistoryRun], name: str) -> tuple[Labelled, Labelled, Matrix]:
    """Fitting and validation rows of the past, and every row of the past to predict."""
    rows = featurize(runs)
    past = np.array([r.created is not None and r.created < CUTOFF for r in runs])
    if name == "job_duration_model":
        table = job_table(runs, rows, synthetic_jobs(runs))
        rows, past, target = table_duration_rows(table), past[table.run_index], job_durations(table)
    elif name.startswith("job_"):
        table = job_table(runs, rows, synthetic_jobs(runs))
        rows, past, target = table.rows, past[table.run_index], table.failed
    elif name in OUTCOME:
        target = np.array([np.nan if r.failed is None else float(r.failed) for r in runs])
    else:
        target = np.array(
            [np.nan if r.success_duration is None else r.success_duration for r in runs]
        )
    usable = past & ~np.isnan(target)
    index = np.flatnonzero(usable)
    cut = int(len(index) * 0.8)
    fitting = Labelled(rows[index[:cut]], target[index[:cut]])
    validation = Labelled(rows[index[cut:]], target[index[cut:]])
    return fitting, validation, rows[past]


def _predict(predictor: Any, rows: Matrix) -> Matrix:
    if hasattr(predictor, "predict_proba"):
        return np.column_stack([predictor.predict_proba(rows), predictor.predict(rows)])
    out: Matrix = predictor.predict(rows)
    return out


@pytest.fixture(scope="module")
def runs() -> list[HistoryRun]:
    """A small seeded history of two repositories."""
    return request_order(synthetic_history(runs=300))


@pytest.mark.parametrize("name", list(ALL))
def test_same_seed_gives_the_same_predictions(name: str, runs: list[HistoryRun]) -> None:
    """Two fits with one seed predict identically."""
    fitting, validation, past = _data(runs, name)
    outputs = []
    for _ in range(2):
        predictor = ALL[name](3)
        predictor.fit(fitting, validation)
        outputs.append(_predict(predictor, past))
    np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.parametrize("name", list(ALL))
def test_fit_and_predict_leave_their_inputs_unchanged(name: str, runs: list[HistoryRun]) -> None:
    """Feature rows and targets are not modified by fitting or predicting."""
    fitting, validation, past = _data(runs, name)
    copies = copy.deepcopy((fitting, validation, past))
    predictor = ALL[name](0)
    predictor.fit(fitting, validation)
    _predict(predictor, past)
    for original, kept in zip((fitting, validation), copies[:2], strict=True):
        np.testing.assert_array_equal(original.rows, kept.rows)
        np.testing.assert_array_equal(original.targets, kept.targets)
    np.testing.assert_array_equal(past, copies[2])


@pytest.mark.parametrize("name", list(ALL))
def test_the_saved_form_loads_into_the_same_predictions(name: str, runs: list[HistoryRun]) -> None:
    """``to_dict`` through JSON and back predicts exactly the same."""
    fitting, validation, past = _data(runs, name)
    predictor = ALL[name](0)
    predictor.fit(fitting, validation)
    loaded = _load(orjson.loads(orjson.dumps(predictor.to_dict())))
    assert loaded.name == predictor.name
    np.testing.assert_array_equal(_predict(loaded, past), _predict(predictor, past))


@pytest.mark.parametrize("name", list(ALL))
def test_shuffling_the_future_leaves_past_predictions_unchanged(
    name: str, runs: list[HistoryRun]
) -> None:
    """Trained and asked about the past only, a predictor ignores a different future."""
    predictions = []
    for history in (runs, request_order(_alter_future(runs, CUTOFF, seed=5))):
        fitting, validation, past = _data(history, name)
        predictor = ALL[name](0)
        predictor.fit(fitting, validation)
        predictions.append(_predict(predictor, past))
    np.testing.assert_array_equal(predictions[0], predictions[1])
