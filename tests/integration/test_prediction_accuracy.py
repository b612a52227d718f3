"""Live accuracy of stored predictions, demotion of the model to a baseline, and its problem."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from controltower.bootstrap import Container, build
from controltower.config import Settings
from controltower.intelligence import registry
from controltower.intelligence.accuracy import (
    accuracy_end,
    check_live_accuracy,
    demotions,
    live_accuracy,
)
from controltower.intelligence.records import HistoryRun, request_order
from controltower.intelligence.serving import RunPrediction, record_prediction
from controltower.intelligence.source import run_pk_of
from controltower.store import schema
from controltower.web.app import create_app
from tests.support.predictions import small_history, store, trained_version

STORED = 100


def _runs() -> list[HistoryRun]:
    return request_order(small_history())[:STORED]


def _now() -> datetime:
    last = max(r.completed or r.created or 0.0 for r in _runs())
    return datetime.fromtimestamp(last, UTC) + timedelta(hours=1)


def _wrong(run: HistoryRun) -> RunPrediction:
    """A model prediction that is wrong on both figures."""
    seconds = run.duration_s or 60.0
    return RunPrediction(
        failure_probability=0.01 if run.failed else 0.99,
        failure_predicted=not run.failed,
        failure_predictor="model",
        probability_predictor="model",
        failure_reason=None,
        duration_p10=seconds * 2.5,
        duration_p50=seconds * 3.0,
        duration_p90=seconds * 3.5,
        duration_predictor="model",
        risk_factors=[],
        version=1,
    )


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    """A live version its evaluation preferred on both figures, and wrong stored predictions."""
    container = build(
        Settings.model_validate(
            {
                **settings.model_dump(),
                "intelligence": {"mode": "on", "accuracy_min_runs": 10, "accuracy_days": 3650},
            }
        )
    )
    schema.upgrade(container.engine)
    store(container.engine, _runs())
    trained, report = trained_version()
    preferred: dict[str, Any] = copy.deepcopy(report)
    preferred["outcome"]["pooled"]["model"]["f1"] = 1.0
    preferred["duration"]["pooled"]["model"]["mdape"] = 0.0
    with container.engine.begin() as conn:
        registry.promote(conn, registry.register(conn, trained, preferred).version)
        for run in _runs()[40:]:
            pk = run_pk_of(conn, run.repository, run.run_id, run.attempt)
            assert pk is not None
            record_prediction(conn, pk, _wrong(run), mode="on", shown=True)
    yield container
    container.close()


def test_every_predictor_is_scored_on_the_same_runs(container: Container) -> None:
    """Failure and duration figures for the model and each baseline, the served counts."""
    with container.engine.connect() as conn:
        found = live_accuracy(conn, days=3650, now=_now())
    assert found.runs == STORED - 40
    assert set(found.failure) == {"model", "previous", "always_pass"}
    assert set(found.duration) == {"model", "previous", "median5"}
    assert found.failure["model"]["f1"] == 0.0
    assert found.duration["model"]["within_20"] == 0.0
    assert found.served["failure"] == {"model": found.failure_runs}
    assert found.failure_runs > 0
    assert found.duration_runs > 0
    for figures in found.duration.values():
        assert set(figures) == {"within_20", "coverage_80", "mdape"}


def _newest_completion() -> datetime:
    return datetime.fromtimestamp(max(r.completed or 0.0 for r in _runs()[40:]), UTC)


def test_a_view_of_live_accuracy_ends_at_the_newest_predicted_run(container: Container) -> None:
    """Predictions of a history whose runs completed long ago stay in view: the dashboard's and
    the API's window ends just after the newest predicted run that completed, or now if that is
    earlier; a window of one day then holds that day's runs."""
    newest = _newest_completion()
    with container.engine.connect() as conn:
        assert accuracy_end(conn) == newest + timedelta(seconds=1)
        earlier = newest - timedelta(hours=5)
        assert accuracy_end(conn, now=earlier) == earlier
    with TestClient(create_app(container)) as client:
        body = client.get("/api/v1/predictions/accuracy", params={"days": 1}).json()
    assert datetime.fromisoformat(body["until"]) == newest + timedelta(seconds=1)
    in_day = [r for r in _runs()[40:] if (r.completed or 0.0) > newest.timestamp() - 86400]
    assert body["runs"] == len(in_day) > 0


def test_nothing_is_scored_outside_the_window(container: Container) -> None:
    """Runs completed before the window are left out."""
    with container.engine.connect() as conn:
        found = live_accuracy(conn, days=1, now=_now() + timedelta(days=30))
    assert found.runs == 0
    assert found.failure == {}


def test_a_model_below_the_baseline_is_demoted_and_reported(container: Container) -> None:
    """Both figures go to a baseline; the problem list and the API say so."""
    with container.engine.begin() as conn:
        made = check_live_accuracy(conn, container.settings, now=_now())
    assert {d.figure for d in made} == {"failure", "duration"}
    with container.engine.connect() as conn:
        live = registry.live_version(conn)
        assert live is not None
        assert live.failure_predictor in {"previous", "always_pass"}
        assert live.duration_predictor in {"previous", "median5"}
        assert {d.figure for d in demotions(conn)} == {"failure", "duration"}
    with container.engine.begin() as conn:
        assert check_live_accuracy(conn, container.settings, now=_now()) == []
    with TestClient(create_app(container)) as client:
        problems = client.get("/api/v1/problems").json()["problems"]
        kinds = [p["kind"] for p in problems]
        assert kinds.count("model-accuracy") == 2
        body = client.get("/api/v1/predictions/accuracy", params={"days": 366}).json()
        assert set(body["demoted"]) == {"failure", "duration"}
        overview = client.get("/").text
    newest = _newest_completion().strftime("%Y-%m-%d")
    assert f"live, {STORED - 40} predicted runs completed in the 3650 days to {newest}" in overview
    failure_f1 = overview.split("failure F1", 1)[1].split(";", 1)[0]
    assert "model 0.00" in failure_f1
    # the baselines in the words the rest of the dashboard uses, not their internal names
    assert "always pass" in failure_f1
    assert "previous run" in failure_f1
    within = overview.split("within ±20%", 1)[1].split("·", 1)[0]
    assert "median of last 5" in within
    assert "always_pass" not in overview
    assert "median5" not in overview


def test_the_models_page_shows_live_accuracy_per_predictor(container: Container) -> None:
    """The same scoring in tables: the wrong stored model predictions score F1 0 there."""
    with TestClient(create_app(container)) as client:
        page = client.get("/models").text
    live = page.split('id="live-h"', 1)[1]
    assert f"{STORED - 40} predicted runs completed in the 3650 days to 20" in live
    assert (
        f"the model with the version that made each prediction (version 1: {STORED - 40} runs)"
        in live
    )
    failure = live.split('aria-label="Failure of runs, live"', 1)[1].split("</table>", 1)[0]
    model_row = failure.split("<td>model</td>", 1)[1].split("</tr>", 1)[0]
    assert model_row.count('<td class="num">0.000</td>') == 3  # precision, recall and F1
    assert "<td>previous run</td>" in failure  # the baseline named in words
    assert 'aria-label="Duration of successful runs, live"' in live
    assert 'aria-label="Failure of jobs, live"' not in live  # no run here has jobs


def test_runs_predicted_before_any_version_that_the_live_one_learnt_are_left_out(
    container: Container,
) -> None:
    """The live version was registered after every stored run completed: predictions made
    before any version existed are counted apart, in the API and on the Models page, and no
    figure scores them."""
    earlier = _runs()[20:40]
    with container.engine.connect() as conn:
        before = live_accuracy(conn, days=3650, now=_now())
    with container.engine.begin() as conn:
        for run in earlier:
            pk = run_pk_of(conn, run.repository, run.run_id, run.attempt)
            assert pk is not None
            made = replace(_wrong(run), version=None)
            record_prediction(conn, pk, made, mode="on", shown=True)
    with container.engine.connect() as conn:
        found = live_accuracy(conn, days=3650, now=_now())
    assert found.runs == STORED - 20
    assert found.left_out == len(earlier)
    assert (found.failure, found.duration) == (before.failure, before.duration)
    assert (found.failure_runs, found.duration_runs) == (before.failure_runs, before.duration_runs)
    with TestClient(create_app(container)) as client:
        body = client.get("/api/v1/predictions/accuracy").json()  # the configured 3650 days
        page = client.get("/models").text
    assert body["left_out"] == len(earlier)
    assert body["model_versions"] == {"1": STORED - 40}  # JSON keys are strings
    assert f"{len(earlier)} predicted before any version existed are left out" in page


def test_a_margin_wider_than_the_gap_keeps_the_model(container: Container) -> None:
    """With a margin of 1 nothing can fall below the baseline by more."""
    settings = Settings.model_validate(
        {
            **container.settings.model_dump(),
            "intelligence": {**container.settings.intelligence.model_dump(), "demote_margin": 1},
        }
    )
    with container.engine.begin() as conn:
        assert check_live_accuracy(conn, settings, now=_now()) == []
        assert demotions(conn) == []
