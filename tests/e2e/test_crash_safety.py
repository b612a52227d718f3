"""An acknowledged delivery survives SIGKILL: stored before the 202, normalized after restart."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from controltower.store.engine import make_engine
from controltower.store.tables import Delivery, WorkflowRun
from tests.support.deliveries import signed, workflow_run_payload
from tests.support.server import cli_env, start_server, wait_until

SECRET = "crash-secret"
TOTAL = 600
KILL_AFTER = 150


def test_deliveries_acknowledged_before_sigkill_are_all_stored_and_normalized(
    tmp_path: Path,
) -> None:
    """Under concurrent load, kill -9 the server mid-stream; every 2xx'd delivery is kept."""
    db = tmp_path / "ct.db"
    env = cli_env(
        data_dir=str(tmp_path / "data"),
        database_url=f"sqlite:///{db}",
        github__webhook_secret=SECRET,
    )
    srv = start_server(env, tmp_path / "server.log")
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()
    killed = threading.Event()

    # One client for every request: httpx.post builds a new client, TLS context included,
    # each time, and 600 of those cost the test more than the server's work.
    client = httpx.Client(timeout=10)

    def send(run_id: int) -> None:
        guid = str(uuid.uuid4())
        body, headers = signed("workflow_run", workflow_run_payload(run_id), SECRET, guid)
        try:
            response = client.post(f"{srv.url}/webhooks/github", content=body, headers=headers)
        except httpx.HTTPError:
            return  # the server died under this request: not acknowledged, may or may not exist
        if response.status_code == 202:
            with lock:
                acknowledged[guid] = run_id
                if len(acknowledged) == KILL_AFTER and not killed.is_set():
                    killed.set()
                    srv.kill()

    with client, ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(send, range(1, TOTAL + 1)))
    assert killed.is_set()
    assert KILL_AFTER <= len(acknowledged) < TOTAL

    restarted = start_server(env, tmp_path / "server.log")
    engine = make_engine(f"sqlite:///{db}")
    try:
        wait_until(lambda: _all_processed(engine, set(acknowledged)), timeout=120)
        with engine.connect() as conn:
            runs = set(conn.execute(select(WorkflowRun.run_id)).scalars())
        assert {str(run_id) for run_id in acknowledged.values()} <= runs
    finally:
        restarted.stop()
        engine.dispose()


def _all_processed(engine: Engine, guids: set[str]) -> bool:
    with engine.connect() as conn:
        rows = dict(conn.execute(select(Delivery.guid, Delivery.state)).all())
    missing = guids - rows.keys()
    assert not missing, f"{len(missing)} acknowledged deliveries were lost"
    return all(rows[guid] == "processed" for guid in guids)
