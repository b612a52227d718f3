"""The registry through the API and the ``/models`` page: list, report, promote, roll back."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from controltower.bootstrap import Container, build
from controltower.config import Settings
from controltower.intelligence import registry
from controltower.web.app import create_app
from tests.support.predictions import trained_version, trained_with_jobs

TOKEN = "models-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def container(settings: Settings, engine: Engine) -> Iterator[Container]:
    """Two versions, the first live, the second (with a job model) a candidate; a token set."""
    container = build(
        Settings.model_validate({**settings.model_dump(), "server": {"api_token": TOKEN}})
    )
    with container.engine.begin() as conn:
        registry.promote(conn, registry.register(conn, *trained_version()).version)
        registry.register(conn, *trained_with_jobs())
    yield container
    container.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    """The app over that store."""
    with TestClient(create_app(container)) as client:
        yield client


def test_versions_are_listed_newest_first_with_what_serves_each_figure(client: TestClient) -> None:
    """Both versions; only the one trained with jobs has a job predictor."""
    listed = client.get("/api/v1/models").json()
    assert [(v["version"], v["status"]) for v in listed] == [(2, "candidate"), (1, "live")]
    assert listed[0]["job_failure_predictor"] in {"model", "baselines"}
    assert listed[1]["job_failure_predictor"] is None
    assert set(listed[1]["failure_f1"]) == {"model", "previous", "always_pass"}


def test_one_version_carries_its_evaluation_report(client: TestClient) -> None:
    """The report of ``model evaluate --json``, jobs under ``jobs``; an unknown version is 404."""
    report = client.get("/api/v1/models/2").json()["report"]
    assert {"outcome", "duration", "jobs"} <= set(report)
    assert set(report["jobs"]["outcome"]["pooled"]) >= {"model", "previous"}
    missing = client.get("/api/v1/models/99")
    assert missing.status_code == 404
    assert "no model version 99" in missing.text


def test_promote_and_roll_back_need_the_token_and_are_undone_in_order(
    client: TestClient, container: Container
) -> None:
    """Refused without the token (nothing changes); with it, 2 goes live, then back to 1."""
    refused = client.post("/api/v1/models/2/promote")
    assert refused.status_code == 401
    with container.engine.connect() as conn:
        live = registry.live_version(conn)
        assert live is not None
        assert live.version == 1
    promoted = client.post("/api/v1/models/2/promote", headers=AUTH)
    assert promoted.status_code == 200
    assert (promoted.json()["version"], promoted.json()["status"]) == (2, "live")
    statuses = {v["version"]: v["status"] for v in client.get("/api/v1/models").json()}
    assert statuses == {1: "archived", 2: "live"}
    back = client.post("/api/v1/models/rollback", headers=AUTH)
    assert (back.json()["version"], back.json()["status"]) == (1, "live")
    assert client.post("/api/v1/models/99/promote", headers=AUTH).status_code == 404


def test_the_page_lists_the_versions_and_the_live_ones_evaluation(
    client: TestClient, container: Container
) -> None:
    """Versions with a Promote button for the candidate, and Roll back only where there is an
    earlier live version to go back to; the live version's figures per section."""
    page = client.get("/models").text
    assert 'aria-labelledby="versions-h"' in page
    assert 'data-promote="2"' in page
    assert "data-rollback" not in page  # version 1 is the first ever live
    assert "Evaluation of version 1 (live)" in page
    assert 'aria-label="Failure of runs"' in page
    assert 'aria-label="Duration of successful runs"' in page
    assert 'aria-label="Failure of jobs"' not in page  # version 1 has no job model
    report = trained_version()[1]
    f1 = report["outcome"]["pooled"]["model"]["f1"]
    assert f"{f1:.3f}" in page
    margin = report["margins"]["outcome"]["pooled"]["f1"]
    assert "Model's margin" in page
    assert f"{margin['difference']:+.3f} against {margin['against']}" in page
    assert f"(95%: {margin['low']:+.3f} to {margin['high']:+.3f}" in page
    with container.engine.begin() as conn:
        registry.promote(conn, 2)
    page = client.get("/models").text
    assert "Evaluation of version 2 (live)" in page
    assert 'aria-label="Failure of jobs"' in page
    jobs = trained_with_jobs()[1]["jobs"]
    f1 = jobs["margins"]["outcome"]["pooled"]["f1"]
    assert f"{f1['difference']:+.3f} against {f1['against']}" in page.split("Failure of jobs")[-1]
    assert 'data-rollback="1"' in page
    assert "Roll back from version 2 to version 1" in page
    assert "Jobs' failure by" in page


def test_a_figure_live_accuracy_demoted_is_said_on_the_page(
    client: TestClient, container: Container
) -> None:
    """The evaluation chose the model for failure; a baseline serves it now: the page says so."""
    trained, report = trained_version()
    preferred = copy.deepcopy(report)
    preferred["outcome"]["pooled"]["model"]["f1"] = 1.0
    with container.engine.begin() as conn:
        number = registry.register(conn, trained, preferred).version
        registry.promote(conn, number)
    before = client.get("/models").text
    assert f"Evaluation of version {number} (live)" in before
    assert "Demoted by live accuracy" not in before
    with container.engine.begin() as conn:
        registry.set_predictor(conn, number, "failure", "previous")
    page = client.get("/models").text
    assert "Demoted by live accuracy: previous serves." in page


def test_with_no_version_the_page_says_how_to_train_one(settings: Settings, engine: Engine) -> None:
    """An empty registry: no evaluation, the command to run; the API lists nothing."""
    container = build(settings)
    with TestClient(create_app(container)) as client:
        page = client.get("/models").text
        assert "No version yet" in page
        assert "Evaluation of version" not in page
        assert client.get("/api/v1/models").json() == []
        assert client.post("/api/v1/models/rollback").status_code == 404
    container.close()


def test_promoting_the_live_version_is_refused_and_rollback_history_holds(
    client: TestClient,
) -> None:
    """2 promoted then rolled back to 1: promoting 1 is 409 "already live" and moves nothing,
    and a rollback then has nothing to go back to instead of bringing 2 back."""
    assert client.post("/api/v1/models/2/promote", headers=AUTH).status_code == 200
    assert client.post("/api/v1/models/rollback", headers=AUTH).json()["version"] == 1
    before = client.get("/api/v1/models/1").json()
    again = client.post("/api/v1/models/1/promote", headers=AUTH)
    assert again.status_code == 409
    detail = "version 1 is already live: nothing changed"
    assert again.json() == {"error": "AlreadyLive", "detail": detail}
    assert client.get("/api/v1/models/1").json() == before
    back = client.post("/api/v1/models/rollback", headers=AUTH)
    assert back.status_code == 404
    statuses = {v["version"]: v["status"] for v in client.get("/api/v1/models").json()}
    assert statuses == {1: "live", 2: "archived"}
