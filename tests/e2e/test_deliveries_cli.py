"""``controltower deliveries`` and ``/api/v1/deliveries``: failed deliveries listed with their
reason, and processed again once what failed on them no longer does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from controltower.bootstrap import build
from controltower.cli.app import app
from controltower.config import Settings
from controltower.ingest.processing import process_all_pending
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.tables import Delivery, WorkflowRun, table_of
from controltower.web import create_app
from tests.support.deliveries import workflow_run_payload

deliveries_t = table_of(Delivery)


def _deliver(url: str, guid: str, event: str, payload: dict[str, object]) -> None:
    """A delivery stored as the endpoint stores it, with its event and action."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(deliveries_t).values(
                guid=guid,
                event=event,
                action=payload.get("action"),
                content_type="application/json",
                body=orjson.dumps(payload),
                received_at=datetime.now(UTC),
            )
        )
    engine.dispose()


def test_failed_deliveries_are_listed_with_their_reason_and_processed_again(
    tmp_path: Path,
) -> None:
    """A run delivery that failed (as it would have under code since mended) and an odd one:
    both listed with their notes; retried now, the run is stored and the odd one fails again
    (exit 1); naming one retries only that one."""
    url = f"sqlite:///{tmp_path / 'ct.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    _deliver(url, "run-1", "workflow_run", workflow_run_payload(7001))
    _deliver(url, "odd-1", "deployment", {"action": "created", "deployment": "v1"})
    process_all_pending(engine)
    with engine.begin() as conn:  # as if the code of the day had failed on the run too
        conn.execute(
            update(deliveries_t)
            .where(deliveries_t.c.guid == "run-1")
            .values(state="failed", attempts=5, note="database: connection lost")
        )
    env = {"CONTROLTOWER_DATABASE_URL": url, "COLUMNS": "200"}
    runner = CliRunner()
    listed = runner.invoke(app, ["deliveries", "list", "--state", "failed", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    failed = {d["guid"]: d for d in json.loads(listed.stdout)}
    assert set(failed) == {"run-1", "odd-1"}
    assert "cannot normalize" in failed["odd-1"]["note"]
    assert "deployment.created" in runner.invoke(app, ["deliveries", "list"], env=env).stdout

    one = runner.invoke(app, ["deliveries", "retry", "run-1", "--json"], env=env)
    assert json.loads(one.stdout) == {"pending_again": 1}
    with engine.connect() as conn:
        states = dict(conn.execute(select(deliveries_t.c.guid, deliveries_t.c.state)).all())
    assert states == {"run-1": "pending", "odd-1": "failed"}

    again = runner.invoke(app, ["deliveries", "retry", "--now", "--json"], env=env)
    assert again.exit_code == 1  # the odd one failed again
    assert json.loads(again.stdout) == {
        "pending_again": 1,
        "processed": 1,
        "ignored": 0,
        "failed": 1,
        "retry": 0,
    }
    with engine.connect() as conn:
        runs = conn.execute(select(table_of(WorkflowRun).c.run_id)).scalars().all()
        states = dict(conn.execute(select(deliveries_t.c.guid, deliveries_t.c.state)).all())
    assert runs == ["7001"]
    assert states == {"run-1": "processed", "odd-1": "failed"}
    engine.dispose()


def test_the_api_lists_failed_deliveries_and_retries_them_with_the_token(tmp_path: Path) -> None:
    """``GET /api/v1/deliveries?state=failed`` lists them with their reason; ``POST
    /api/v1/deliveries/retry`` needs the API token like every write, and sets them pending."""
    settings = Settings(
        data_dir=tmp_path,
        queue_url="memory://",
        github={"webhook_secret": "s"},
        server={"api_token": "s3cret-token"},
    )
    container = build(settings)
    schema.upgrade(container.engine)
    url = container.settings.resolved_database_url
    _deliver(url, "odd-1", "deployment", {"action": "created", "deployment": "v1"})
    _deliver(url, "odd-2", "deployment_status", {"action": "created", "deployment": 3})
    process_all_pending(container.engine)
    with TestClient(create_app(container)) as client:
        listed = client.get("/api/v1/deliveries", params={"state": "failed"}).json()
        assert {d["guid"] for d in listed} == {"odd-1", "odd-2"}
        assert all("cannot normalize" in d["note"] for d in listed)
        body = {"guids": ["odd-2"]}
        assert client.post("/api/v1/deliveries/retry", json=body).status_code == 401
        good = {"Authorization": "Bearer s3cret-token"}
        answer = client.post("/api/v1/deliveries/retry", json=body, headers=good)
        assert answer.json() == {"pending_again": 1}
        pending = client.get("/api/v1/deliveries", params={"state": "pending"}).json()
        assert [d["guid"] for d in pending] == ["odd-2"]
        assert client.get("/api/v1/deliveries", params={"state": "lost"}).status_code == 422
    container.close()
