"""Signed deliveries of any shape: acknowledged or refused, never a server error; and one
whose payload cannot be normalized is marked failed without holding up the others."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from controltower.bootstrap import Container, build
from controltower.config import Settings
from controltower.ingest.processing import process_all_pending
from controltower.ingest.signature import signature_for
from controltower.store import schema
from controltower.store.tables import Delivery, WorkflowRun, table_of
from controltower.web import create_app
from tests.conftest import SECRET
from tests.support.deliveries import signed, workflow_run_payload

URL = "/webhooks/github"
EVENTS = ("workflow_run", "workflow_job", "push", "deployment", "deployment_status", "ping")
# The keys GitHub's payloads are read by, so that drawn payloads reach past the first lookup.
KEYS = st.sampled_from(
    [
        "action",
        "workflow_run",
        "workflow_job",
        "deployment",
        "deployment_status",
        "repository",
        "full_name",
        "id",
        "name",
        "status",
        "conclusion",
        "run_attempt",
        "created_at",
        "steps",
        "labels",
        "environment",
        "head_commit",
        "commits",
    ]
)
PAYLOADS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
deliveries_t = table_of(Delivery)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Container]]:
    """The application on a SQLite database of its own, for every drawn delivery."""
    folder: Path = tmp_path_factory.mktemp("payloads")
    container = build(
        Settings(data_dir=folder, queue_url="memory://", github={"webhook_secret": SECRET})
    )
    schema.upgrade(container.engine)
    with TestClient(create_app(container)) as client:
        yield client, container
    container.close()


def _post(client: TestClient, event: str, body: bytes, guid: UUID) -> int:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(guid),
        "X-Hub-Signature-256": signature_for(SECRET, body),
    }
    return client.post(URL, content=body, headers=headers).status_code


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=PAYLOADS, event=st.sampled_from(EVENTS), guid=st.uuids())
def test_a_signed_delivery_of_any_shape_is_answered_and_processed_without_error(
    app: tuple[TestClient, Container], payload: Any, event: str, guid: UUID
) -> None:
    """Whatever JSON it carries: acknowledged (then processed, ignored or marked failed) or
    refused with a 4xx, never a 5xx; and processing the backlog raises nothing."""
    client, container = app
    assert _post(client, event, orjson.dumps(payload), guid) < 500
    process_all_pending(container.engine)


def test_a_payload_that_cannot_be_normalized_is_failed_and_the_batch_goes_on(
    app: tuple[TestClient, Container],
) -> None:
    """A deployment whose ``deployment`` is a string: marked failed, with the reason; the
    workflow run delivered beside it is stored."""
    client, container = app
    odd = {"action": "created", "deployment": "v1", "repository": {"full_name": "o/r", "id": 1}}
    assert _post(client, "deployment", orjson.dumps(odd), UUID(int=1)) == 202
    body, headers = signed("workflow_run", workflow_run_payload(901), SECRET)
    assert client.post(URL, content=body, headers=headers).status_code == 202
    report = process_all_pending(container.engine)
    assert report.failed >= 1
    with container.engine.connect() as conn:
        row = conn.execute(
            select(deliveries_t.c.state, deliveries_t.c.note).where(
                deliveries_t.c.guid == str(UUID(int=1))
            )
        ).one()
        runs = conn.execute(select(table_of(WorkflowRun).c.run_id)).scalars().all()
    assert row.state == "failed"
    assert "cannot normalize" in row.note
    assert "901" in runs
