"""``POST /api/v1/predict`` and a run's stored prediction, as the rollout allows."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from controltower.bootstrap import build
from controltower.config import Settings
from controltower.intelligence import registry
from controltower.intelligence.records import request_order
from controltower.intelligence.serving import predict_new_runs, predictions_t
from controltower.web.app import create_app
from tests.support.predictions import small_history, store, trained_version

ASK = {
    "repository": "org/repo0",
    "workflow": "ci",
    "branch": "main",
    "event": "push",
    "actor": "ana",
    "files_changed": 12,
    "lines_added": 400,
    "lines_deleted": 90,
}


def _client(settings: Settings, **update: Any) -> Iterator[TestClient]:
    """The app over the store the engine fixture migrated, with a live version and a prediction."""
    container = build(Settings.model_validate({**settings.model_dump(), **update}))
    runs = request_order(small_history())
    store(container.engine, runs[:100])
    # queued a minute ago: a run queued in the history's past would have ended long since
    queued = time.time() - 60
    pending = dataclasses.replace(
        runs[100], status="queued", conclusion=None, created=queued, started=None, completed=None
    )
    store(container.engine, [pending])
    trained, report = trained_version()
    with container.engine.begin() as conn:
        registry.promote(conn, registry.register(conn, trained, report).version)
    predict_new_runs(container.engine, container.settings, [("org/repo0", pending.run_id, 1)])
    with TestClient(create_app(container)) as client:
        yield client
    container.close()


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The API with prediction on, a live version and one queued run predicted."""
    yield from _client(settings, intelligence={"mode": "on"})


@pytest.fixture
def shadow(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The same in shadow mode."""
    yield from _client(settings, intelligence={"mode": "shadow"})


def test_a_hypothetical_run_gets_percentiles_risk_and_who_served(client: TestClient) -> None:
    """p10 <= p50 <= p90 where the model serves, a probability, reasons in words."""
    response = client.post("/api/v1/predict", json=ASK)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 1
    assert body["failure_predictor"] in {"model", "previous", "always_pass"}
    assert body["duration_predictor"] in {"model", "previous", "median5"}
    assert 0 <= body["failure_probability"] <= 1
    assert body["duration_p50"] > 0
    if body["duration_predictor"] == "model":
        assert body["duration_p10"] <= body["duration_p50"] <= body["duration_p90"]
    assert all(
        words.endswith(("(raises the risk)", "(lowers the risk)")) for words in body["risk_factors"]
    )


def test_the_stored_prediction_of_a_queued_run_is_served(client: TestClient) -> None:
    """The prediction made when the run was queued is in the API, with what moved its duration
    from the median of five where the model gave it (nothing where a baseline did)."""
    run_id = request_order(small_history())[100].run_id
    response = client.get(f"/api/v1/repositories/org/repo0/runs/{run_id}/prediction")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 1
    factors = body["duration_factors"]
    assert all(words.endswith(("(lengthens it)", "(shortens it)")) for words in factors)
    if body["duration_predictor"] != "model":
        assert factors == []


def test_a_prediction_stored_before_duration_factors_serves_none(
    client: TestClient, engine: Engine
) -> None:
    """A stored prediction without the column's value (stored before it) is served with an
    empty list, not an error."""
    run_id = request_order(small_history())[100].run_id
    with engine.begin() as conn:
        conn.execute(update(predictions_t).values(duration_factors=None))
    response = client.get(f"/api/v1/repositories/org/repo0/runs/{run_id}/prediction")
    assert response.status_code == 200, response.text
    assert response.json()["duration_factors"] == []


def test_shadow_mode_shows_nothing(shadow: TestClient) -> None:
    """Shadow: 503 with the reason for hypothetical runs, 404 for stored ones."""
    response = shadow.post("/api/v1/predict", json=ASK)
    assert response.status_code == 503
    assert "shadow" in response.json()["detail"]
    run_id = request_order(small_history())[100].run_id
    stored = shadow.get(f"/api/v1/repositories/org/repo0/runs/{run_id}/prediction")
    assert stored.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"repository": None}, "repository"),
        ({"workflow": None}, "workflow"),
        ({"lines_added": -1}, "lines_added"),
        ({"event": "banana"}, "event"),
        ({"branch": ""}, "branch"),
        ({"branch": "  "}, "branch"),
        ({"actor": ""}, "actor"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_requests_get_422_naming_the_field(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    """A missing repository or workflow, a negative change size, an event GitHub has no such
    name for, an empty branch or actor, an unknown field: 422 in the API's error shape."""
    ask = {k: v for k, v in {**ASK, **change}.items() if v is not None}
    response = client.post("/api/v1/predict", json=ask)
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert [e["loc"][-1] for e in body["detail"]] == [field]


def test_an_unknown_workflow_of_a_known_repository_is_not_predicted(client: TestClient) -> None:
    """No runs of that workflow: 404 naming it and the repository's workflows, as for an
    unknown repository."""
    response = client.post("/api/v1/predict", json={**ASK, "workflow": "nightly"})
    assert response.status_code == 404
    assert set(response.json()) == {"error", "detail"}
    assert "no workflow 'nightly' in org/repo0" in response.json()["detail"]
    assert "ci, lint" in response.json()["detail"]


def test_a_repository_with_no_stored_runs_is_not_predicted(client: TestClient) -> None:
    """No history to predict from: 404 saying so, not a prediction from nothing."""
    response = client.post("/api/v1/predict", json={**ASK, "repository": "org/nowhere"})
    assert response.status_code == 404
    assert "no runs of org/nowhere" in response.json()["detail"]


def test_the_run_page_shows_a_shown_prediction(client: TestClient) -> None:
    """The run page has a labelled prediction section with the figures in words."""
    run_id = request_order(small_history())[100].run_id
    page = client.get(f"/repositories/org/repo0/runs/{run_id}")
    assert page.status_code == 200, page.text
    assert 'aria-labelledby="prediction-heading"' in page.text
    served = client.get(f"/api/v1/repositories/org/repo0/runs/{run_id}/prediction").json()
    # on this small history the previous run wins F1, the model the probability figures:
    # the model's probability is shown beside the baseline's pass or fail, with its reason
    assert (served["failure_predictor"], served["probability_predictor"]) == ("previous", "model")
    assert 0.0 < served["failure_probability"] < 1.0
    told = ("the previous run failed", "the previous run did not fail")  # cancelled: not failed
    assert served["failure_reason"] in told
    assert "Failure probability</div>" in page.text
    verdict = "fail" if served["failure_predicted"] else "pass"
    assert f"predicted to {verdict}: {served['failure_reason']}" in page.text
    assert "pass or fail by baseline: same as the previous run" in page.text
    assert "a baseline gives no probability" not in page.text
    assert "Risk factors:" in page.text
    assert "the run has not completed yet" in page.text


def test_the_run_page_tells_what_moved_the_duration_where_it_was_told(
    client: TestClient, engine: Engine
) -> None:
    """The stored duration factors are on the run page after the risk factors; a prediction
    with none (a baseline's durations, or stored before) says nothing of them."""
    run_id = request_order(small_history())[100].run_id
    told = ["this commit already passed once (shortens it)", "its last 20 successful runs..."]
    with engine.begin() as conn:
        conn.execute(update(predictions_t).values(duration_factors=told))
    page = client.get(f"/repositories/org/repo0/runs/{run_id}").text
    intro = "What moved the predicted duration from the median of the last 5 successful runs"
    assert f"{intro}: {told[0]}; {told[1]}." in page
    assert page.index("Risk factors") < page.index(intro)
    with engine.begin() as conn:
        conn.execute(update(predictions_t).values(duration_factors=[]))
    assert intro not in client.get(f"/repositories/org/repo0/runs/{run_id}").text


def test_the_run_page_hides_a_shadow_prediction(shadow: TestClient) -> None:
    """In shadow mode the prediction is stored but the page does not show it."""
    run_id = request_order(small_history())[100].run_id
    page = shadow.get(f"/repositories/org/repo0/runs/{run_id}")
    assert page.status_code == 200, page.text
    assert "prediction-heading" not in page.text


@pytest.fixture
def outside_canary(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """Prediction on, and a canary that would show no run (a share of 0, no allow-list)."""
    yield from _client(settings, intelligence={"mode": "on", "canary_share": 0.0})


def _shown(client: TestClient) -> tuple[int, bool]:
    run_id = request_order(small_history())[100].run_id
    api = client.get(f"/api/v1/repositories/org/repo0/runs/{run_id}/prediction")
    page = client.get(f"/repositories/org/repo0/runs/{run_id}").text
    return api.status_code, 'aria-labelledby="prediction-heading"' in page


def test_a_prediction_made_while_on_is_hidden_once_its_run_falls_outside_the_canary(
    outside_canary: TestClient,
) -> None:
    """Made in ``on`` mode; switched to ``canary`` with the run outside it: hidden in both."""
    assert _shown(outside_canary) == (200, True)
    switched = outside_canary.put("/api/v1/capabilities/prediction", json={"mode": "canary"})
    assert switched.status_code == 200, switched.text
    assert _shown(outside_canary) == (404, False)
    run_id = request_order(small_history())[100].run_id
    hidden = outside_canary.get(f"/api/v1/repositories/org/repo0/runs/{run_id}/prediction")
    assert "outside the canary" in hidden.json()["detail"]


def test_a_prediction_made_in_shadow_is_shown_once_the_mode_is_on(shadow: TestClient) -> None:
    """Made in ``shadow`` (stored, not shown); switched to ``on``: the API and page show it."""
    assert _shown(shadow) == (404, False)
    assert shadow.put("/api/v1/capabilities/prediction", json={"mode": "on"}).status_code == 200
    assert _shown(shadow) == (200, True)


def test_a_repository_is_named_in_any_case(client: TestClient) -> None:
    """``ORG/Repo0`` is the stored ``org/repo0``, as on GitHub: predicted from its history, and
    its run's stored prediction served."""
    response = client.post("/api/v1/predict", json={**ASK, "repository": "ORG/Repo0"})
    assert response.status_code == 200, response.text
    as_stored = client.post("/api/v1/predict", json=ASK).json()
    for figure in ("failure_probability", "duration_p50", "duration_predictor"):
        assert response.json()[figure] == as_stored[figure], figure
    run_id = request_order(small_history())[100].run_id
    stored = client.get(f"/api/v1/repositories/Org/REPO0/runs/{run_id}/prediction")
    assert stored.status_code == 200, stored.text
    assert stored.json()["version"] == 1
