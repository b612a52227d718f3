"""The registry of model versions on SQLite and PostgreSQL: promote, roll back, never delete."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from controltower.errors import AlreadyLive, ModelVersionNotFound
from controltower.intelligence import registry
from controltower.intelligence.features import featurize
from controltower.intelligence.job_duration import table_duration_rows
from controltower.intelligence.job_evaluation import evaluate_jobs
from controltower.intelligence.job_model import job_table
from controltower.intelligence.records import request_order
from controltower.intelligence.training import train
from controltower.store.tables import ModelVersion, table_of
from tests.support.histories import synthetic_jobs
from tests.support.predictions import small_history, trained_version


def _register(engine: Engine, n: int) -> list[int]:
    trained, report = trained_version()
    with engine.begin() as conn:
        return [registry.register(conn, trained, report).version for _ in range(n)]


def test_versions_are_registered_as_candidates_with_their_report(engine: Engine) -> None:
    """A new version is a candidate, keeps its report and the predictor chosen for each figure."""
    (number,) = _register(engine, 1)
    with engine.connect() as conn:
        info = registry.version(conn, number)
        assert registry.live_version(conn) is None
    assert info.status == "candidate"
    assert info.trained_runs == 240
    assert set(info.report) == {"outcome", "duration", "test_runs", "excluded", "margins"}
    assert info.failure_predictor in {"model", "previous", "always_pass"}
    assert info.duration_predictor in {"model", "previous", "median5"}


def test_promote_archives_the_live_version_and_rollback_goes_back_in_order(
    engine: Engine,
) -> None:
    """Promoting 1, 2, 3 then rolling back twice makes 2 then 1 live; nothing is deleted."""
    first, second, third = _register(engine, 3)
    for number in (first, second, third):
        with engine.begin() as conn:
            registry.promote(conn, number)
    with engine.begin() as conn:
        assert registry.rollback(conn).version == second
    with engine.begin() as conn:
        assert registry.rollback(conn).version == first
        with pytest.raises(ModelVersionNotFound, match="roll back"):
            registry.rollback(conn)
    with engine.connect() as conn:
        statuses = {v.version: v.status for v in registry.versions(conn)}
        count = conn.execute(select(func.count()).select_from(table_of(ModelVersion))).scalar()
    assert statuses == {first: "live", second: "archived", third: "archived"}
    assert count == 3


def test_promoting_an_unknown_version_is_refused(engine: Engine) -> None:
    """No such version: ``ModelVersionNotFound`` and the live version stays."""
    (number,) = _register(engine, 1)
    with engine.begin() as conn:
        registry.promote(conn, number)
        with pytest.raises(ModelVersionNotFound, match="no model version 99"):
            registry.promote(conn, 99)
        live = registry.live_version(conn)
    assert live is not None
    assert live.version == number


def test_a_version_whose_model_lost_serves_the_baseline(engine: Engine) -> None:
    """The report decides: a model that did not beat the baseline's F1 is not live for failure."""
    trained, report = trained_version()
    worse = copy.deepcopy(report)
    worse["outcome"]["pooled"]["model"]["f1"] = 0.0
    worse["outcome"]["pooled"]["previous"]["f1"] = 0.5
    with engine.begin() as conn:
        info = registry.register(conn, trained, worse)
        loaded = registry.load_models(conn, info)
    assert info.failure_predictor == "previous"
    assert loaded.failure_predictor == "previous"
    assert loaded.failure.threshold == trained.failure.threshold


def test_a_version_keeps_its_job_model_and_serves_it_as_its_job_report_chose(
    engine: Engine,
) -> None:
    """Saved and loaded, the job model predicts the same; the job report picks what serves."""
    runs = request_order(small_history())
    jobs = synthetic_jobs(runs)
    trained = train(runs, jobs=jobs, threads=1)
    assert trained.job_failure is not None
    report = {**trained_version()[1], "jobs": evaluate_jobs(runs, jobs)}
    lost = copy.deepcopy(report)
    lost["jobs"]["served"]["failure_predicted"] = "previous"
    rows = job_table(runs, featurize(runs), jobs).rows
    with engine.begin() as conn:
        chosen = registry.load_models(conn, registry.register(conn, trained, report))
        baselines = registry.load_models(conn, registry.register(conn, trained, lost))
        without = registry.load_models(conn, registry.register(conn, *trained_version()))
    assert chosen.job_failure is not None
    np.testing.assert_array_equal(
        chosen.job_failure.predict_proba(rows), trained.job_failure.predict_proba(rows)
    )
    served = report["jobs"]["served"]["failure_predicted"]
    assert chosen.job_failure_predictor == ("model" if served == "model" else "baselines")
    assert baselines.job_failure_predictor == "baselines"
    assert (without.job_failure, without.job_failure_predictor) == (None, None)


def test_a_version_keeps_its_job_duration_model_and_one_saved_before_it_serves_the_median(
    engine: Engine,
) -> None:
    """Saved and loaded, the job duration model predicts the same and serves as the job report
    chose; a version saved before it (no such model, a report choosing the median of five)
    loads without one and serves the median of five."""
    runs = request_order(small_history())
    jobs = synthetic_jobs(runs)
    trained = train(runs, jobs=jobs, threads=1)
    assert trained.job_duration is not None
    report = {**trained_version()[1], "jobs": evaluate_jobs(runs, jobs)}
    chose = copy.deepcopy(report)
    chose["jobs"]["served"]["duration"] = "model"
    older = copy.deepcopy(report)
    older["jobs"]["served"]["duration"] = "median5_interval"
    before = dataclasses.replace(trained, job_duration=None)
    rows = table_duration_rows(job_table(runs, featurize(runs), jobs))
    with engine.begin() as conn:
        chosen = registry.load_models(conn, registry.register(conn, trained, chose))
        old_info = registry.register(conn, before, older)
        old = registry.load_models(conn, old_info)
    assert chosen.job_duration is not None
    np.testing.assert_array_equal(
        chosen.job_duration.predict(rows), trained.job_duration.predict(rows)
    )
    assert chosen.job_duration_predictor == "model"
    assert (old.job_duration, old.job_duration_predictor) == (None, "median5")
    assert old_info.summary()["job_duration_predictor"] == "median5"
    assert old.job_failure is not None  # the rest of the version loads as before


def test_promoting_the_live_version_changes_nothing_and_rollbacks_stay_a_stack(
    engine: Engine,
) -> None:
    """1 and 3 promoted, rolled back to 1: promoting 1 is refused as already live and moves
    nothing; there is then nothing to roll back to (3 was taken off)."""
    first, _, third = _register(engine, 3)
    for number in (first, third):
        with engine.begin() as conn:
            registry.promote(conn, number)
    with engine.begin() as conn:
        assert registry.rollback(conn).version == first
        before = registry.version(conn, first)
        with pytest.raises(AlreadyLive, match=f"version {first} is already live"):
            registry.promote(conn, first)
        assert registry.version(conn, first) == before
        assert registry.rollback_target(conn) is None
        with pytest.raises(ModelVersionNotFound, match="roll back"):
            registry.rollback(conn)


def test_a_version_rolled_back_from_is_passed_over_until_promoted_again(engine: Engine) -> None:
    """1, 2, 3 promoted, rolled back twice, 3 promoted again: a rollback goes to 1, not 2."""
    first, second, third = _register(engine, 3)
    for number in (first, second, third):
        with engine.begin() as conn:
            registry.promote(conn, number)
    with engine.begin() as conn:
        registry.rollback(conn)
        registry.rollback(conn)
        registry.promote(conn, third)
        assert registry.rollback_target(conn) == first
        assert registry.rollback(conn).version == first
    with engine.begin() as conn:
        registry.promote(conn, second)
        assert registry.rollback(conn).version == first
