"""Predictions for stored runs and runs arriving by webhook, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select

from controltower.bootstrap import build
from controltower.config import Settings
from controltower.ingest import processing
from controltower.intelligence import registry
from controltower.intelligence.explain import risk_factors
from controltower.intelligence.features import INDEX, featurize
from controltower.intelligence.records import HistoryRun, request_order
from controltower.intelligence.serving import (
    predict_for_run,
    predict_new_runs,
    predict_row,
    stored_prediction,
)
from controltower.intelligence.source import run_pk_of, unfinished_runs
from controltower.store.tables import Delivery, table_of
from tests.support.paths import EXAMPLES, requested_now
from tests.support.predictions import small_history, store, trained_version

REQUESTED = requested_now()


def _live(engine: Engine) -> registry.LoadedModels:
    trained, report = trained_version()
    with engine.begin() as conn:
        info = registry.promote(conn, registry.register(conn, trained, report).version)
        return registry.load_models(conn, info)


def test_a_stored_run_is_predicted_from_the_same_features_as_in_training(engine: Engine) -> None:
    """predict_for_run equals the prediction on the run's row of the whole featurized history."""
    runs = request_order(small_history())
    store(engine, runs)
    models = _live(engine)
    target = runs[200]
    expected = predict_row(models, featurize(runs)[200:201])
    with engine.connect() as conn:
        pk = run_pk_of(conn, target.repository, target.run_id, target.attempt)
        assert pk is not None
        served = predict_for_run(conn, pk)
    assert served == expected
    assert served.version == models.version
    p10, p50, p90 = served.duration_p10, served.duration_p50, served.duration_p90
    assert p50 is not None
    if served.duration_predictor == "model":
        assert p10 is not None
        assert p90 is not None
        assert p10 <= p50 <= p90
    assert served.failure_probability is not None
    assert 0.0 <= served.failure_probability <= 1.0


def test_without_a_trained_version_the_baselines_serve(engine: Engine) -> None:
    """No version: previous outcome and median of five, no version number."""
    runs = request_order(small_history())
    store(engine, runs[:50])
    with engine.connect() as conn:
        pk = run_pk_of(conn, runs[49].repository, runs[49].run_id, 1)
        assert pk is not None
        served = predict_for_run(conn, pk)
    assert served is not None
    assert (served.failure_predictor, served.duration_predictor) == ("previous", "median5")
    assert served.version is None
    row = featurize(runs[:50])[49]
    assert served.duration_p50 == pytest.approx(row[INDEX["base_dur_median5"]])


def _with(settings: Settings, **update: Any) -> Settings:
    return Settings.model_validate({**settings.model_dump(), **update})


def _queued(engine: Engine, settings: Settings) -> dict[str, Any] | None:
    runs = request_order(small_history())
    store(engine, runs[:60])
    pending = dataclasses.replace(
        runs[60], status="queued", conclusion=None, completed=None, duration_s=None
    )
    store(engine, [pending])
    predict_new_runs(engine, settings, [(pending.repository, pending.run_id, 1)])
    with engine.connect() as conn:
        pk = run_pk_of(conn, pending.repository, pending.run_id, 1)
        assert pk is not None
        return stored_prediction(conn, pk)


@pytest.mark.parametrize(("mode", "shown"), [("on", True), ("shadow", False)])
def test_a_queued_run_gets_one_stored_prediction(
    engine: Engine, settings: Settings, mode: str, shown: bool
) -> None:
    """On and shadow both store the prediction; only on marks it shown."""
    stored = _queued(engine, _with(settings, intelligence={"mode": mode}))
    assert stored is not None
    assert stored["shown"] is shown
    assert stored["mode"] == mode


@pytest.mark.parametrize(
    "update", [{"enabled": False}, {"ml_enabled": False}, {"intelligence": {"mode": "off"}}]
)
def test_switched_off_nothing_is_predicted(
    engine: Engine, settings: Settings, update: dict[str, Any]
) -> None:
    """Either kill switch (everything, or ML) or mode off: no prediction stored."""
    assert _queued(engine, _with(settings, **update)) is None


def test_a_requested_run_from_a_webhook_is_predicted_after_normalization(
    engine: Engine, settings: Settings
) -> None:
    """The normalizer hands requested runs to the prediction hook the container wires."""
    container = build(_with(settings, intelligence={"mode": "on"}, queue_url="immediate://"))
    try:
        with engine.begin() as conn:
            conn.execute(
                table_of(Delivery)
                .insert()
                .values(
                    guid="g-1",
                    event="workflow_run",
                    action="requested",
                    content_type="application/json",
                    body=json.dumps(REQUESTED).encode(),
                    received_at=datetime.now(UTC),
                )
            )
        container.tasks.sweep()
        run = REQUESTED["workflow_run"]
        with engine.connect() as conn:
            pk = run_pk_of(
                conn, REQUESTED["repository"]["full_name"], str(run["id"]), run["run_attempt"]
            )
            assert pk is not None
            stored = stored_prediction(conn, pk)
    finally:
        container.close()
    assert stored is not None
    assert stored["shown"] is True
    assert stored["failure_predictor"] == "previous"


def test_processing_reports_only_unfinished_runs(engine: Engine) -> None:
    """A completed run is not handed to the hook."""
    heard: list[Any] = []
    completed = json.loads((EXAMPLES / "workflow_run" / "completed.payload.json").read_text())
    with engine.begin() as conn:
        conn.execute(
            table_of(Delivery)
            .insert()
            .values(
                guid="g-2",
                event="workflow_run",
                action="completed",
                content_type="application/json",
                body=json.dumps(completed).encode(),
                received_at=datetime.now(UTC),
            )
        )
    processing.process_all_pending(engine, on_runs=heard.append)
    assert heard == []
    with engine.connect() as conn:
        states = conn.execute(select(table_of(Delivery).c.state)).scalars().all()
    assert states == ["processed"]


def _pending_delivery(engine: Engine, guid: str, payload: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(
            table_of(Delivery)
            .insert()
            .values(
                guid=guid,
                event="workflow_run",
                action=payload["action"],
                content_type="application/json",
                body=json.dumps(payload).encode(),
                received_at=datetime.now(UTC),
            )
        )


def test_a_replayed_request_of_long_ago_is_not_handed_on_for_prediction(engine: Engine) -> None:
    """A delivery of a run requested a year ago (redelivered or replayed) cannot be a run going
    on now: it is stored, but only the run requested just now is handed to the hook."""
    fresh = requested_now()
    old = copy.deepcopy(fresh)
    old["workflow_run"]["id"] += 1
    old["workflow_run"]["created_at"] = "2025-06-01T10:00:00Z"
    old["workflow_run"]["run_started_at"] = "2025-06-01T10:00:00Z"
    _pending_delivery(engine, "g-old", old)
    _pending_delivery(engine, "g-new", fresh)
    heard: list[Any] = []
    processing.process_all_pending(engine, on_runs=heard.append)
    repository = REQUESTED["repository"]["full_name"]
    assert heard == [[(repository, str(fresh["workflow_run"]["id"]), 1)]]
    with engine.connect() as conn:
        assert run_pk_of(conn, repository, str(old["workflow_run"]["id"]), 1) is not None


def test_only_runs_that_can_still_be_going_on_are_in_flight(engine: Engine) -> None:
    """A run GitHub reported unfinished long ago has ended (its end never arrived): it is not
    in flight, so it is not predicted; one queued an hour ago is."""
    now = datetime.now(UTC).timestamp()
    day = 86400.0
    runs = [
        HistoryRun("org/app", "1", status="in_progress", created=now - 400 * day),
        HistoryRun("org/app", "2", status="pending", created=now - 3 * day),
        HistoryRun("org/app", "3", status="queued", created=now - 3600),
        HistoryRun("org/app", "4", status="in_progress", created=now - 10 * day),
        HistoryRun("org/app", "5", status="completed", conclusion="success", created=now - 60),
    ]
    store(engine, runs)
    with engine.connect() as conn:
        assert unfinished_runs(conn, datetime.now(UTC)) == [
            ("org/app", "3", 1),
            ("org/app", "4", 1),
        ]


def _served_by(
    engine: Engine, f1: dict[str, float], brier: dict[str, float]
) -> registry.LoadedModels:
    trained, report = trained_version()
    chosen = copy.deepcopy(report)
    for name, figures in chosen["outcome"]["pooled"].items():
        figures.update(f1=f1[name], brier=brier[name])
    with engine.begin() as conn:
        return registry.load_models(conn, registry.register(conn, trained, chosen))


def _rows() -> Any:
    return featurize(request_order(small_history()))


def test_the_probability_shown_is_the_models_where_it_wins_brier_though_a_baseline_decides(
    engine: Engine,
) -> None:
    """The previous run wins F1, the model Brier: the model's calibrated probability (never
    exactly 0 or 1) is shown and explained, the previous run decides and is said to."""
    models = _served_by(
        engine,
        f1={"model": 0.50, "previous": 0.52, "always_pass": 0.0},
        brier={"model": 0.11, "previous": 0.25, "always_pass": 0.14},
    )
    assert (models.failure_predictor, models.probability_predictor) == ("previous", "model")
    rows = _rows()
    failed_before = np.flatnonzero(rows[:, INDEX["base_prev_failed"]] == 1.0)[0]
    row = rows[failed_before : failed_before + 1]
    served = predict_row(models, row)
    assert served.failure_probability == pytest.approx(models.failure.predict_proba(row)[0])
    assert served.failure_probability is not None
    assert 0.0 < served.failure_probability < 1.0
    assert (served.failure_predicted, served.failure_reason) == (True, "the previous run failed")
    assert (served.failure_predictor, served.probability_predictor) == ("previous", "model")
    contributions = models.failure.contributions(row)[0]
    assert served.risk_factors == [f.told for f in risk_factors(row[0], contributions)]


def test_a_failure_predicted_below_the_threshold_says_the_previous_run_failed(
    engine: Engine,
) -> None:
    """The model decides "the previous run failed, or the probability reaches the threshold":
    a failure predicted at a low probability gives the streak as its reason."""
    models = _served_by(
        engine,
        f1={"model": 0.6, "previous": 0.5, "always_pass": 0.0},
        brier={"model": 0.11, "previous": 0.25, "always_pass": 0.14},
    )
    models.failure.threshold = 0.95  # above the probability of every run after a failure here
    rows = _rows()
    low = models.failure.predict_proba(rows) < models.failure.threshold
    streak = np.flatnonzero(low & (rows[:, INDEX["base_prev_failed"]] == 1.0))[0]
    served = predict_row(models, rows[streak : streak + 1])
    assert served.failure_predicted is True
    assert served.failure_probability is not None
    assert served.failure_probability < models.failure.threshold
    assert served.failure_reason is not None
    assert served.failure_reason.startswith("the previous run failed")
    calm = np.flatnonzero(low & (rows[:, INDEX["base_prev_failed"]] == 0.0))[0]
    passing = predict_row(models, rows[calm : calm + 1])
    assert passing.failure_predicted is False
    assert passing.failure_reason is not None
    assert "below its threshold" in passing.failure_reason
