"""POST /webhooks/github through the real application, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from controltower.bootstrap import Container, build
from controltower.config import Settings
from controltower.errors import ConfigurationError
from controltower.ingest.processing import process_all_pending
from controltower.ingest.signature import signature_for
from controltower.store.tables import Delivery, WorkflowRun
from controltower.web import create_app
from tests.conftest import SECRET
from tests.support.deliveries import signed, workflow_run_payload

URL = "/webhooks/github"


@pytest.fixture
def container(settings: Settings, engine: Engine) -> Iterator[Container]:
    """A container on the database ``engine`` migrated, with a small body limit for the 413 test."""
    settings = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"max_body_bytes": 200_000})}
    )
    container = build(settings)
    yield container
    container.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    """The app over HTTP, its journal running; normalization is triggered by the tests."""
    with TestClient(create_app(container)) as client:
        yield client


def stored(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Delivery)).scalar_one())


def test_signed_delivery_is_stored_acknowledged_then_normalized(
    client: TestClient, container: Container
) -> None:
    """A valid delivery is answered 202 once stored, and becomes a run after processing."""
    body, headers = signed("workflow_run", workflow_run_payload(41), SECRET)
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == 202
    assert response.json()["duplicate"] is False
    assert stored(container) == 1
    report = process_all_pending(container.engine)
    assert report.processed == 1
    with container.engine.connect() as conn:
        run_id, status = conn.execute(select(WorkflowRun.run_id, WorkflowRun.status)).one()
    assert (run_id, status) == ("41", "completed")


def test_same_delivery_twice_is_one_row_and_both_acknowledged(
    client: TestClient, container: Container
) -> None:
    """A redelivery (same X-GitHub-Delivery) is answered 202 and marked duplicate, stored once."""
    body, headers = signed("workflow_run", workflow_run_payload(42), SECRET)
    first = client.post(URL, content=body, headers=headers)
    second = client.post(URL, content=body, headers=headers)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == {**first.json(), "duplicate": True}
    assert stored(container) == 1


def test_form_encoded_delivery_is_accepted(client: TestClient, container: Container) -> None:
    """A payload= form body, signed as sent, is stored and normalizes like JSON."""
    body = urlencode({"payload": orjson.dumps(workflow_run_payload(43)).decode()}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-GitHub-Event": "workflow_run",
        "X-GitHub-Delivery": "form-1",
        "X-Hub-Signature-256": signature_for(SECRET, body),
    }
    assert client.post(URL, content=body, headers=headers).status_code == 202
    assert process_all_pending(container.engine).processed == 1


def _bad(headers: dict[str, str], **change: str | None) -> dict[str, str]:
    out = dict(headers)
    for key, value in change.items():
        name = key.replace("_", "-")
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


@pytest.mark.parametrize(
    ("change", "body_override", "status"),
    [
        ({"X_Hub_Signature_256": None}, None, 401),
        ({"X_Hub_Signature_256": "sha256=" + "0" * 64}, None, 401),
        ({"Content_Type": "text/plain"}, None, 415),
        ({"X_GitHub_Event": None}, None, 400),
        ({"X_GitHub_Delivery": None}, None, 400),
        ({}, b"{not json", 400),
        ({}, b'{"zen": "no run here", "repository": {}}', 400),
        ({}, b"x" * 200_001, 413),
    ],
    ids=[
        "no-signature",
        "wrong-signature",
        "content-type",
        "no-event",
        "no-guid",
        "malformed-json",
        "no-matching-event",
        "too-large",
    ],
)
def test_bad_deliveries_get_a_clear_4xx_and_store_nothing(
    client: TestClient,
    container: Container,
    change: dict[str, str | None],
    body_override: bytes | None,
    status: int,
) -> None:
    """Refused deliveries are answered with the right 4xx and a reason, and leave no row."""
    body, headers = signed("workflow_run", workflow_run_payload(44), SECRET)
    if body_override is not None:
        body = body_override
        headers["X-Hub-Signature-256"] = signature_for(SECRET, body)
    response = client.post(URL, content=body, headers=_bad(headers, **change))
    assert response.status_code == status
    assert response.json()["detail"]
    assert stored(container) == 0


def test_events_we_do_not_use_are_stored_and_ignored(
    client: TestClient, container: Container
) -> None:
    """A star delivery is acknowledged and kept, then marked ignored rather than failed."""
    body, headers = signed("star", {"action": "created", "repository": {}}, SECRET)
    assert client.post(URL, content=body, headers=headers).status_code == 202
    report = process_all_pending(container.engine)
    assert (report.ignored, report.failed) == (1, 0)


def test_app_refuses_to_start_without_a_secret(tmp_path: object) -> None:
    """No webhook secret and no explicit insecure flag is a configuration error."""
    container = build(Settings(database_url="sqlite://", queue_url="memory://"))
    try:
        with pytest.raises(ConfigurationError, match="WEBHOOK_SECRET"):
            create_app(container)
        assert create_app(container, allow_unsigned=True) is not None
    finally:
        container.close()
