"""A version trained on the history as it stood at a moment, and live accuracy scoring each
prediction again with the version that made it."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from controltower.intelligence import registry
from controltower.intelligence.accuracy import live_accuracy
from controltower.intelligence.features import featurize
from controltower.intelligence.lifecycle import retrain
from controltower.intelligence.records import as_of, request_order
from controltower.intelligence.serving import RunPrediction, record_prediction
from controltower.intelligence.source import run_pk_of
from controltower.intelligence.training import train
from controltower.store import schema
from controltower.store.engine import make_engine
from tests.support.predictions import small_history, store, trained_version


def _moment() -> float:
    """The request of a run while the one before it in its repository still went on."""
    runs = request_order(small_history())
    late = [
        b
        for a, b in pairwise(runs)
        if a.repository == b.repository and (a.completed or 0) > (b.created or 0)
    ]
    assert late, "the synthetic history has runs that overlap"
    return late[len(late) // 2].created or 0.0


def test_a_version_trained_as_of_a_moment_is_the_one_trained_on_the_history_then(
    engine: Engine, tmp_path: Path
) -> None:
    """Trained on the whole stored history as of a moment, or on a database that holds only
    what was known then: the same report and the same predictions, and fewer runs than all."""
    moment = _moment()
    store(engine, small_history())
    whole = retrain(engine, threads=1, as_of=datetime.fromtimestamp(moment, UTC))
    then = make_engine(f"sqlite:///{tmp_path / 'then.db'}")
    schema.upgrade(then)
    store(then, as_of(small_history(), moment))
    alone = retrain(then, threads=1)
    assert whole.trained_runs == alone.trained_runs < len(small_history())
    assert {k: v for k, v in whole.report.items() if k != "history_as_of"} == alone.report
    assert whole.history_as_of == datetime.fromtimestamp(moment, UTC).isoformat()
    assert alone.history_as_of is None  # all stored history
    rows = featurize(request_order(small_history()))
    with engine.connect() as a, then.connect() as b:
        first, second = registry.load_models(a, whole), registry.load_models(b, alone)
    np.testing.assert_array_equal(
        first.failure.predict_proba(rows), second.failure.predict_proba(rows)
    )
    np.testing.assert_array_equal(first.duration.predict(rows), second.duration.predict(rows))
    then.dispose()


def _served_by_baselines(version: int | None) -> RunPrediction:
    """A prediction the baselines served, made by ``version`` (None: before any existed)."""
    return RunPrediction(
        failure_probability=0.5,
        failure_predicted=False,
        failure_predictor="previous",
        probability_predictor="previous",
        failure_reason=None,
        duration_p10=60.0,
        duration_p50=120.0,
        duration_p90=240.0,
        duration_predictor="median5",
        risk_factors=[],
        version=version,
    )


def test_live_accuracy_scores_a_prediction_again_with_the_version_that_made_it(
    engine: Engine,
) -> None:
    """Predictions that baselines served, made by version 1: the model's figures are computed
    again with version 1's models, also once version 2, trained on those very runs, is live."""
    runs = request_order(small_history())
    cut = len(runs) * 3 // 5
    store(engine, runs)
    early = train(runs[:cut], threads=1)
    full = train(runs, threads=1)
    report = trained_version()[1]
    with engine.begin() as conn:
        first = registry.register(conn, early, report).version
        second = registry.register(conn, full, report).version
        registry.promote(conn, first)
        for run in runs[cut:]:
            pk = run_pk_of(conn, run.repository, run.run_id, run.attempt)
            assert pk is not None
            record_prediction(conn, pk, _served_by_baselines(first), mode="on", shown=True)
    now = datetime.fromtimestamp(max(r.completed or 0.0 for r in runs), UTC)
    with engine.connect() as conn:
        by_first = live_accuracy(conn, 3650, now)
    with engine.begin() as conn:
        registry.promote(conn, second)
    with engine.connect() as conn:
        with_second_live = live_accuracy(conn, 3650, now)
    assert by_first.failure["model"] == with_second_live.failure["model"]
    assert by_first.duration["model"] == with_second_live.duration["model"]
    rows = featurize(runs)[cut:]
    # the two versions differ on these runs: the figures would differ if the live one scored
    assert not np.array_equal(early.failure.predict_proba(rows), full.failure.predict_proba(rows))
    assert by_first.runs == len(runs) - cut
    assert by_first.left_out == 0
    assert by_first.model_versions == with_second_live.model_versions == {first: by_first.runs}


def test_a_prediction_made_before_any_version_is_scored_only_where_the_live_one_did_not_learn_it(
    engine: Engine,
) -> None:
    """Predictions made before any version existed: a live version trained on the whole
    history learnt their outcomes, so they are left out of every figure; one trained as of a
    moment before they completed scores them, the model beside the baselines."""
    runs = request_order(small_history())
    cut = len(runs) * 3 // 5
    store(engine, runs)
    report = trained_version()[1]
    with engine.begin() as conn:
        for run in runs[cut:]:
            pk = run_pk_of(conn, run.repository, run.run_id, run.attempt)
            assert pk is not None
            record_prediction(conn, pk, _served_by_baselines(None), mode="on", shown=True)
        registry.promote(conn, registry.register(conn, train(runs, threads=1), report).version)
    now = datetime.fromtimestamp(max(r.completed or 0.0 for r in runs), UTC)
    with engine.connect() as conn:
        learnt = live_accuracy(conn, 3650, now)
    assert learnt.runs == len(runs) - cut
    assert learnt.left_out == learnt.runs
    assert learnt.failure == {}
    assert learnt.duration == {}
    assert learnt.model_versions == {}
    moment = min(r.completed or 0.0 for r in runs[cut:]) - 1
    earlier = {**report, "history_as_of": datetime.fromtimestamp(moment, UTC).isoformat()}
    known = [r for r in runs if (r.completed or 0.0) <= moment]
    with engine.begin() as conn:
        live = registry.register(conn, train(known, threads=1), earlier).version
        registry.promote(conn, live)
    with engine.connect() as conn:
        unseen = live_accuracy(conn, 3650, now)
    assert unseen.left_out == 0
    assert unseen.model_versions == {live: unseen.runs}
    assert unseen.failure_runs > 0
    assert unseen.duration_runs > 0
    assert {"model", "previous", "always_pass"} <= set(unseen.failure)
    assert {"model", "median5"} <= set(unseen.duration)
