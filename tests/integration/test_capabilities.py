"""Capability switches stored with their history, read live by the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from controltower.bootstrap import build
from controltower.config import Settings
from controltower.errors import InvalidMode, UnknownCapability
from controltower.intelligence import capability
from controltower.intelligence.capability import prediction_mode, switch_mode
from controltower.store.capabilities import current_switches, switch_history
from controltower.store.tables import CapabilityChange, table_of
from controltower.web.app import create_app


def test_switches_are_kept_as_history_and_the_newest_holds(engine: Engine) -> None:
    """Three switches: the last is current, all three are listed newest first."""
    with engine.begin() as conn:
        for mode in ("off", "canary", "on"):
            switch_mode(conn, "prediction", mode, changed_by="cli:ana", reason=f"to {mode}")
    with engine.connect() as conn:
        assert current_switches(conn)["prediction"].mode == "on"
        history = switch_history(conn, "prediction")
    assert [s.mode for s in history] == ["on", "canary", "off"]
    assert history[-1].reason == "to off"
    assert history[0].changed_by == "cli:ana"


@pytest.mark.parametrize(
    ("name", "mode", "error"),
    [("prediction", "maybe", InvalidMode), ("teleport", "on", UnknownCapability)],
)
def test_a_refused_switch_stores_nothing(
    engine: Engine, name: str, mode: str, error: type[Exception]
) -> None:
    """An unknown mode or capability raises and leaves the table empty."""
    with pytest.raises(error), engine.begin() as conn:
        switch_mode(conn, name, mode, changed_by="t", reason=None)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(table_of(CapabilityChange)))
        assert count.scalar_one() == 0


def test_another_process_switch_is_seen_within_the_cache_time(
    engine: Engine, settings: Settings
) -> None:
    """A switch written elsewhere (no local forget) is read once the cache has expired."""
    on = Settings.model_validate({**settings.model_dump(), "intelligence": {"mode": "on"}})
    capability.forget()
    assert prediction_mode(engine, on).mode == "on"
    with engine.begin() as conn:
        conn.execute(
            table_of(CapabilityChange)
            .insert()
            .values(name="prediction", mode="off", changed_at=func.now(), changed_by="x")
        )
    time.sleep(capability.CACHE_S + 0.1)
    assert prediction_mode(engine, on).mode == "off"


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The API with prediction on in the settings, over the database ``engine`` migrated."""
    container = build(
        Settings.model_validate({**settings.model_dump(), "intelligence": {"mode": "on"}})
    )
    capability.forget()
    with TestClient(create_app(container)) as client:
        yield client
    container.close()


def test_the_api_lists_and_switches_capabilities(client: TestClient) -> None:
    """GET shows the settings' mode; PUT switches it, with who and why, and GET follows."""
    listed = client.get("/api/v1/capabilities").json()
    assert [(c["name"], c["mode"], c["source"]) for c in listed] == [
        ("prediction", "on", "settings")
    ]
    put = client.put("/api/v1/capabilities/prediction", json={"mode": "shadow", "reason": "noisy"})
    assert put.status_code == 200
    body = put.json()
    assert (body["mode"], body["source"], body["reason"]) == ("shadow", "switch", "noisy")
    assert body["changed_by"].startswith("api:")
    assert client.get("/api/v1/capabilities").json()[0]["mode"] == "shadow"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/v1/capabilities/prediction", {"mode": "sometimes"}, 422),
        ("/api/v1/capabilities/teleport", {"mode": "on"}, 404),
    ],
)
def test_the_api_refuses_a_bad_switch_and_changes_nothing(
    client: TestClient, path: str, body: dict[str, str], status: int
) -> None:
    """A bad mode or an unknown capability: a clear 4xx, the mode unchanged."""
    response = client.put(path, json=body)
    assert response.status_code == status
    assert client.get("/api/v1/capabilities").json()[0]["source"] == "settings"
