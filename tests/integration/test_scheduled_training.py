"""The worker's daily training: what it registers, and what it leaves as the operator set it."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from huey import MemoryHuey
from sqlalchemy import Engine

from controltower.bootstrap.queue import register_tasks
from controltower.config import Settings
from controltower.intelligence import registry
from controltower.intelligence.accuracy import demotions
from controltower.intelligence.lifecycle import _promote_scheduled, retrain
from controltower.web.api.predictions import model_accuracy_problems
from tests.support.predictions import small_history, store, trained_version


def _training_task(engine: Engine, settings: Settings) -> object:
    on = settings.model_copy(
        update={"intelligence": settings.intelligence.model_copy(update={"mode": "shadow"})}
    )
    task = register_tasks(MemoryHuey("t", immediate=True), engine, settings=on).train
    assert task is not None
    return task


@pytest.mark.parametrize("conclusion", ["success", "failure"])
def test_a_history_of_one_outcome_registers_nothing_and_raises_nothing(
    engine: Engine, settings: Settings, conclusion: str
) -> None:
    """Every run passed (or failed): the task logs why it trained nothing; no version exists."""
    store(engine, [dataclasses.replace(r, conclusion=conclusion) for r in small_history()])
    task = _training_task(engine, settings)
    assert task.call_local() is None  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert registry.versions(conn) == []


def _versions(engine: Engine, n: int, report: dict[str, Any] | None = None) -> list[int]:
    trained, evaluated = trained_version()
    with engine.begin() as conn:
        return [registry.register(conn, trained, report or evaluated).version for _ in range(n)]


def _live(engine: Engine) -> registry.VersionInfo:
    with engine.connect() as conn:
        live = registry.live_version(conn)
    assert live is not None
    return live


def test_after_an_operator_rolls_back_scheduled_training_registers_a_candidate_only(
    engine: Engine, settings: Settings
) -> None:
    """Rolled back to 1 by an operator: the daily training adds a candidate and 1 stays live,
    also after an operator promotes; once ``model train`` promotes, the next one goes live."""
    store(engine, small_history())
    first, second = _versions(engine, 2)
    with engine.begin() as conn:
        registry.promote(conn, first, by=registry.TRAINING)
        registry.promote(conn, second, by=registry.TRAINING)
        registry.rollback(conn)
    task = _training_task(engine, settings)
    summary = task.call_local()  # type: ignore[attr-defined]
    assert summary["status"] == "candidate"
    assert (_live(engine).version, _live(engine).promoted_by) == (first, "operator")
    with engine.begin() as conn:
        registry.promote(conn, summary["version"])
    assert retrain(engine, scheduled=True, threads=1).status == "candidate"
    assert _live(engine).version == summary["version"]
    trained = retrain(engine, threads=1)  # ``model train``: an operator's promotion by training
    assert (trained.status, trained.promoted_by) == ("live", "training")
    assert retrain(engine, scheduled=True, threads=1).status == "live"


def test_scheduled_training_keeps_a_demoted_figure_on_its_baseline(engine: Engine) -> None:
    """Live accuracy demoted the model's failure figures: the version trained next goes live
    with failure still served by that baseline, which the problems list keeps saying."""
    trained, report = trained_version()
    preferred = copy.deepcopy(report)
    preferred["outcome"]["pooled"]["model"]["f1"] = 1.0
    (first,) = _versions(engine, 1, preferred)
    with engine.begin() as conn:
        registry.promote(conn, first, by=registry.TRAINING)
        registry.set_predictor(conn, first, "failure", "previous")
        new = registry.register(conn, trained, preferred)
        assert new.failure_predictor == "model"
        live = _promote_scheduled(conn, new)
        assert (live.version, live.status, live.failure_predictor) == (
            new.version,
            "live",
            "previous",
        )
        assert [(d.version, d.figure, d.predictor) for d in demotions(conn)] == [
            (new.version, "failure", "previous")
        ]
        assert "until an operator promotes" in model_accuracy_problems(conn)[0].detail


def test_scheduled_training_keeps_demoted_job_durations_on_the_median_of_five(
    engine: Engine,
) -> None:
    """Live accuracy handed jobs' durations back to the median of five: the version trained
    next, whose report chose the job duration model, goes live serving the median of five."""
    trained, report = trained_version()
    preferred = copy.deepcopy(report)
    preferred["jobs"] = {"served": {"failure_predicted": "baselines", "duration": "model"}}
    (first,) = _versions(engine, 1, preferred)
    with engine.begin() as conn:
        registry.promote(conn, first, by=registry.TRAINING)
        registry.set_predictor(conn, first, "job_duration", "median5")
        new = registry.register(conn, trained, preferred)
        assert new.job_duration_predictor == "model"
        live = _promote_scheduled(conn, new)
        assert (live.version, live.status) == (new.version, "live")
        assert registry.live_version(conn).job_duration_predictor == "median5"  # type: ignore[union-attr]
        assert [(d.version, d.figure, d.predictor) for d in demotions(conn)] == [
            (new.version, "job_duration", "median5")
        ]
