"""A running server and its worker follow a capability switch made from the CLI, no restart."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from controltower.intelligence.capability import CACHE_S
from controltower.intelligence.serving import stored_prediction
from controltower.intelligence.source import run_pk_of
from controltower.store.engine import make_engine
from tests.support.deliveries import signed
from tests.support.paths import requested_now
from tests.support.server import cli_env, run_cli, server, wait_until

SECRET = "switch-secret"
REQUESTED = requested_now()
REPOSITORY = REQUESTED["repository"]["full_name"]


def _deliver(url: str, run_id: int) -> None:
    payload: dict[str, Any] = copy.deepcopy(REQUESTED)
    payload["workflow_run"]["id"] = run_id
    body, headers = signed("workflow_run", payload, SECRET)
    response = httpx.post(f"{url}/webhooks/github", content=body, headers=headers, timeout=10)
    assert response.status_code == 202


def _stored(engine: Engine, run_id: int) -> tuple[bool, dict[str, Any] | None]:
    with engine.connect() as conn:
        pk = run_pk_of(conn, REPOSITORY, str(run_id), 1)
        return pk is not None, None if pk is None else stored_prediction(conn, pk)


def _switch(env: dict[str, str], mode: str) -> None:
    result = run_cli("capability", "set", "prediction", mode, "--reason", "e2e", env=env)
    assert result.returncode == 0, result.stderr
    time.sleep(CACHE_S + 0.5)  # every process reads the switch within CACHE_S


def _shown(url: str, run_id: int) -> int:
    path = f"/api/v1/repositories/{REPOSITORY}/runs/{run_id}/prediction"
    return httpx.get(f"{url}{path}", timeout=10).status_code


def test_runs_delivered_after_off_are_not_predicted_and_after_on_they_are(tmp_path: Path) -> None:
    """set off: a new run gets no prediction and shown ones hide; set on: predicted, shown again."""
    db = tmp_path / "ct.db"
    env = cli_env(
        data_dir=str(tmp_path / "data"),
        database_url=f"sqlite:///{db}",
        github__webhook_secret=SECRET,
        intelligence__mode="on",
    )
    engine = make_engine(f"sqlite:///{db}")
    with server(env, tmp_path / "server.log") as srv:
        _deliver(srv.url, 1001)
        wait_until(lambda: _stored(engine, 1001)[1] is not None)
        assert _shown(srv.url, 1001) == 200
        _switch(env, "off")
        assert _shown(srv.url, 1001) == 404
        _deliver(srv.url, 1002)
        wait_until(lambda: _stored(engine, 1002)[0])
        time.sleep(1.0)  # the hook runs right after the batch is stored
        assert _stored(engine, 1002)[1] is None
        assert _stored(engine, 1001)[1] is not None  # hidden, not deleted
        _switch(env, "on")
        assert _shown(srv.url, 1001) == 200
        _deliver(srv.url, 1003)
        wait_until(lambda: _stored(engine, 1003)[1] is not None)
    listed = run_cli("capability", "list", "--json", env=env)
    assert [s["mode"] for s in json.loads(listed.stdout)[0]["history"]] == ["on", "off"]
    engine.dispose()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("capability", "set", "prediction", "banana"), "mode 'banana': use one of"),
        (("capability", "set", "nonsense", "on"), "no capability 'nonsense'"),
        (("model", "evaluate", "--dataset", "/nonexistent"), "/nonexistent: no such file"),
        (("model", "evaluate", "--dataset", __file__), "not a .jsonl or .csv file"),
    ],
)
def test_bad_usage_exits_2_saying_what_is_wrong_and_creates_nothing(
    tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    """An unknown mode or capability, a history file that is not one: usage errors (exit 2),
    refused before any database is opened."""
    env = cli_env(data_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path}/ct.db")
    env["COLUMNS"] = "300"  # the message on one line
    result = run_cli(*args, env=env)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert not (tmp_path / "ct.db").exists()
