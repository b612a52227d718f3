"""``/api/v1/alerts`` and ``/api/v1/silences`` over a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from controltower.bootstrap import build
from controltower.config import AlertRule, Settings
from controltower.integrations.alert_messages import Message, Notification
from controltower.store.tables import Alert, Silence, table_of
from controltower.telemetry.activity import Problem
from controltower.telemetry.alerts import evaluate
from controltower.telemetry.notification_outbox import StoredOutbox
from controltower.web.app import create_app

alerts_t, silences_t = table_of(Alert), table_of(Silence)
APP = Problem("failing-branch", "warning", "CI is failing on main", "x", None, "org/app", 7)
BACKLOG = Problem("ingest-backlog", "critical", "12000 deliveries waiting", "y")
GONE = Problem("failing-branch", "warning", "lint is failing on main", "z", None, "org/web", 8)


def _raise(engine: Engine, found: list[Problem], now: datetime) -> None:
    with engine.begin() as conn:
        evaluate(conn, found, [AlertRule(name="all problems")], now)


@pytest.fixture
def web(settings: Settings, engine: Engine) -> Iterator[tuple[TestClient, Engine]]:
    """The app over a store (migrated by ``engine``) with two firing alerts and one resolved."""
    container = build(settings)
    now = datetime.now(UTC)
    _raise(container.engine, [APP, BACKLOG, GONE], now - timedelta(hours=1))
    _raise(container.engine, [APP, BACKLOG], now - timedelta(minutes=30))
    with TestClient(create_app(container)) as client:
        yield client, container.engine
    container.close()


def _ids(client: TestClient, **params: Any) -> list[str]:
    response = client.get("/api/v1/alerts", params=params)
    assert response.status_code == 200, response.text
    return [a["title"] for a in response.json()]


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_alerts_list_by_state_and_severity(web: tuple[TestClient, Engine]) -> None:
    """Firing by default, worst first; resolved and all on request; severity filters."""
    client, _ = web
    assert _ids(client) == ["12000 deliveries waiting", "CI is failing on main"]
    assert _ids(client, state="resolved") == ["lint is failing on main"]
    assert len(_ids(client, state="all")) == 3
    assert _ids(client, state="all", severity="critical") == ["12000 deliveries waiting"]
    assert _ids(client, state="all", limit=1, offset=2) == ["lint is failing on main"]
    assert client.get("/api/v1/alerts", params={"state": "open"}).status_code == 422


def test_acknowledging_through_the_api(web: tuple[TestClient, Engine]) -> None:
    """ack marks the alert (who, note), the filter finds it, unack clears it."""
    client, engine = web
    alert = client.get("/api/v1/alerts", params={"severity": "warning"}).json()[0]
    response = client.post(f"/api/v1/alerts/{alert['id']}/ack", json={"by": "ana", "note": "mine"})
    assert response.status_code == 200, response.text
    assert (response.json()["acknowledged"], response.json()["acknowledged_by"]) == (True, "ana")
    assert client.get(f"/api/v1/alerts/{alert['id']}").json()["ack_note"] == "mine"
    assert _ids(client, acknowledged=True) == ["CI is failing on main"]
    with engine.connect() as conn:
        row = conn.execute(select(alerts_t).where(alerts_t.c.id == alert["id"])).one()
    assert row.acknowledged_by == "ana"
    assert client.post(f"/api/v1/alerts/{alert['id']}/unack").json()["acknowledged"] is False
    assert _ids(client, acknowledged=True) == []


def test_refused_acknowledgements_change_nothing(web: tuple[TestClient, Engine]) -> None:
    """Unknown ids are 404, a resolved alert 409, a blank name 422; no row is changed."""
    client, engine = web
    resolved = client.get("/api/v1/alerts", params={"state": "resolved"}).json()[0]
    firing = client.get("/api/v1/alerts").json()[0]
    missing = client.post("/api/v1/alerts/99999/ack", json={"by": "ana"})
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no alert 99999"
    assert client.get("/api/v1/alerts/99999").status_code == 404
    assert client.post(f"/api/v1/alerts/{resolved['id']}/ack", json={"by": "a"}).status_code == 409
    blank = client.post(f"/api/v1/alerts/{firing['id']}/ack", json={"by": "  "})
    assert blank.status_code == 422
    assert "by" in blank.text
    assert client.post(f"/api/v1/alerts/{firing['id']}/ack", json={}).status_code == 422
    with engine.connect() as conn:
        acked = conn.execute(select(alerts_t.c.id).where(alerts_t.c.acknowledged_at.is_not(None)))
        assert acked.all() == []


def test_silences_mark_alerts_and_end_early(web: tuple[TestClient, Engine]) -> None:
    """A silence on org/* marks its alert silenced; expiring it unmarks it and keeps the row."""
    client, engine = web
    body = {"repository": "org/*", "duration": "2h", "reason": "migration", "created_by": "bo"}
    created = client.post("/api/v1/silences", json=body)
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["active"] is True
    assert _ids(client, silenced=True) == ["CI is failing on main"]
    assert _ids(client, silenced=False) == ["12000 deliveries waiting"]
    marked = client.get("/api/v1/alerts", params={"silenced": True}).json()[0]
    assert marked["silenced_by"] == silence["id"]
    listed = client.get("/api/v1/silences", params={"active": True}).json()
    assert [s["id"] for s in listed] == [silence["id"]]
    expired = client.post(f"/api/v1/silences/{silence['id']}/expire")
    assert expired.status_code == 200
    assert expired.json()["active"] is False
    assert expired.json()["expired_at"] is not None
    assert _ids(client, silenced=True) == []
    assert client.get("/api/v1/silences", params={"active": True}).json() == []
    assert [s["id"] for s in client.get("/api/v1/silences").json()] == [silence["id"]]
    assert _count(engine, silences_t) == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"reason": "x", "created_by": "bo"}, "either ends_at or duration"),
        ({"reason": "x", "created_by": "bo", "duration": "2h", "ends_at": "2099-01-01T00:00:00Z"},
         "either ends_at or duration"),
        ({"reason": "x", "created_by": "bo", "duration": "soon"}, "use a number and a unit"),
        ({"reason": "x", "created_by": "bo", "ends_at": "2000-01-01T00:00:00Z"}, "in the past"),
        ({"reason": "x", "created_by": "bo", "ends_at": "2099-01-01T00:00:00"}, "timezone"),
        ({"reason": "", "created_by": "bo", "duration": "2h"}, "reason"),
        ({"reason": "x", "duration": "2h"}, "created_by"),
        ({"reason": "x", "created_by": "bo", "duration": "2h", "kind": ""}, "kind"),
    ],
)  # fmt: skip
def test_unusable_silences_are_refused_with_422(
    web: tuple[TestClient, Engine], body: dict[str, Any], says: str
) -> None:
    """Each bad silence says what is wrong and stores nothing."""
    client, engine = web
    response = client.post("/api/v1/silences", json=body)
    assert response.status_code == 422, response.text
    assert says in response.text
    assert _count(engine, silences_t) == 0


def test_expiring_an_unknown_silence_is_404(web: tuple[TestClient, Engine]) -> None:
    """An id that names no silence is not found."""
    client, _ = web
    response = client.post("/api/v1/silences/4242/expire")
    assert response.status_code == 404
    assert response.json()["detail"] == "no silence 4242"


@pytest.fixture
def guarded(settings: Settings, engine: Engine) -> Iterator[tuple[TestClient, Engine]]:
    """The same app with an API token set."""
    server = {**settings.server.model_dump(), "api_token": "s3cret-token"}
    container = build(Settings.model_validate({**settings.model_dump(), "server": server}))
    _raise(container.engine, [APP, BACKLOG, GONE], datetime.now(UTC) - timedelta(hours=1))
    with TestClient(create_app(container)) as client:
        yield client, container.engine
    container.close()


def test_with_an_api_token_every_write_needs_it_and_a_refused_one_changes_nothing(
    guarded: tuple[TestClient, Engine],
) -> None:
    """No token or a wrong one: 401 asking for a bearer token, nothing written; reads stay open;
    with the token each write goes through."""
    client, engine = guarded
    alert = client.get("/api/v1/alerts").json()[0]["id"]
    silence = {"repository": "org/*", "duration": "2h", "reason": "r", "created_by": "bo"}
    writes = [
        ("post", f"/api/v1/alerts/{alert}/ack", {"by": "ana"}),
        ("post", f"/api/v1/alerts/{alert}/unack", None),
        ("post", "/api/v1/silences", silence),
        ("put", "/api/v1/capabilities/prediction", {"mode": "off", "reason": "r"}),
    ]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
        for method, path, body in writes:
            refused = client.request(method, path, json=body, headers=headers)
            assert refused.status_code == 401, (path, headers, refused.text)
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "API token" in refused.json()["detail"]
    assert _count(engine, silences_t) == 0
    assert client.get("/api/v1/capabilities").status_code == 200
    with engine.connect() as conn:
        acked = conn.execute(select(alerts_t.c.id).where(alerts_t.c.acknowledged_at.is_not(None)))
        assert acked.all() == []
    good = {"Authorization": "Bearer s3cret-token"}
    for method, path, body in writes:
        done = client.request(method, path, json=body, headers=good)
        assert done.status_code in (200, 201), (path, done.text)
    assert _count(engine, silences_t) == 1
    expire = client.post("/api/v1/silences/1/expire")
    assert expire.status_code == 401


def test_a_blank_api_token_is_refused_at_start() -> None:
    """An empty token would let anyone write while looking guarded: a clear error instead."""
    with pytest.raises(ValueError, match="api_token must not be blank"):
        Settings.model_validate({"server": {"api_token": "  "}})


def test_the_alerts_page_anchors_each_alert_where_notifications_link(
    web: tuple[TestClient, Engine],
) -> None:
    """A notification's link, /alerts#alert-ID, lands on that alert's row, firing or resolved."""
    client, engine = web
    with engine.connect() as conn:
        ids = conn.execute(select(alerts_t.c.id)).scalars().all()
    page = client.get("/alerts").text
    assert len(ids) == 3
    assert all(f'id="alert-{alert_id}"' in page for alert_id in ids)


def test_the_notifications_api_counts_the_messages_still_owed(
    web: tuple[TestClient, Engine],
) -> None:
    """A message waiting for its retry is counted pending until it is delivered."""
    client, engine = web
    now = datetime.now(UTC)
    message = Message((Notification("k", "firing", "warning", "t", "d", now),))
    outbox = StoredOutbox(engine)
    (owed,) = outbox.add([("slack", "t", "json", message)], now, now)
    outbox.failed(owed, 1, "HTTP 503", now, now + timedelta(minutes=1), now, held_until=now)
    assert client.get("/api/v1/alerts/notifications").json()["pending"] == 1
    outbox.delivered(owed, 2, now, held_until=now)
    assert client.get("/api/v1/alerts/notifications").json()["pending"] == 0
