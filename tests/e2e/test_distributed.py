"""Scale-out: a web process and two worker processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import select

from controltower.bootstrap.queue import QUEUE_NAME
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.tables import Delivery, WorkflowRun
from tests.support.deliveries import signed, workflow_run_payload
from tests.support.server import cli_env, start, start_server, wait_until
from tests.support.services import REDIS_URL, postgres_schema, require

SECRET = "distributed-secret"
DELIVERIES = 300


@pytest.mark.postgres
@pytest.mark.redis
def test_two_workers_share_the_backlog_through_redis(tmp_path: Path) -> None:
    """Deliveries to a --no-worker server are normalized by two worker processes, both busy;
    each periodic task is enqueued by one of them."""
    require("Redis", "127.0.0.1", 6379)
    queue = redis.Redis.from_url(REDIS_URL)
    _clear(queue)
    with postgres_schema() as url:
        engine = make_engine(url)
        schema.upgrade(engine)
        env = cli_env(
            data_dir=str(tmp_path / "data"),
            database_url=url,
            queue_url=REDIS_URL,
            github__webhook_secret=SECRET,
        )
        web = start_server(env, tmp_path / "web.log", "--no-worker", "--no-migrate")
        workers = [start(["worker"], env, tmp_path / f"worker{n}.log") for n in (1, 2)]
        try:
            # Both consume before the backlog is sent, or the first up may take it all.
            wait_until(
                lambda: all("worker_started" in w.log.read_text() for w in workers), timeout=120
            )

            # One client for every request: httpx.post would build a TLS context for each.
            client = httpx.Client(timeout=10)

            def send(run_id: int) -> int:
                body, headers = signed(
                    "workflow_run", workflow_run_payload(run_id), SECRET, str(uuid.uuid4())
                )
                response = client.post(f"{web.url}/webhooks/github", content=body, headers=headers)
                return response.status_code

            with client, ThreadPoolExecutor(max_workers=8) as pool:
                codes = list(pool.map(send, range(1, DELIVERIES + 1)))
            assert codes == [202] * DELIVERIES

            def done() -> bool:
                with engine.connect() as conn:
                    states = list(conn.execute(select(Delivery.state)).scalars())
                return len(states) == DELIVERIES and set(states) == {"processed"}

            wait_until(done, timeout=120)
            with engine.connect() as conn:
                who = set(conn.execute(select(Delivery.processed_by)).scalars())
                runs = set(conn.execute(select(WorkflowRun.run_id)).scalars())
        finally:
            for process in (web, *workers):
                process.stop()
            engine.dispose()
            _clear(queue)
    assert runs == {str(n) for n in range(1, DELIVERIES + 1)}
    worker_pids = {str(w.popen.pid) for w in workers}
    assert None not in who
    assert {str(entry).rsplit(":", 1)[1] for entry in who} == worker_pids
    # Both workers' schedulers checked the periodic tasks at start: each (task, minute) was
    # enqueued by one of them only.
    enqueued = [
        line.split("periodic_task_enqueued", 1)[1].split()
        for w in workers
        for line in w.log.read_text().splitlines()
        if "periodic_task_enqueued " in line
    ]
    assert ["task=evaluate_alerts" in fields for fields in enqueued].count(True) >= 1
    assert len({tuple(sorted(fields)) for fields in enqueued}) == len(enqueued)


def _clear(queue: redis.Redis) -> None:
    """Delete the product queue's keys (its tasks, schedule and results) and no other test's."""
    for key in queue.scan_iter(match=f"huey.*.{QUEUE_NAME}*"):
        queue.delete(key)
