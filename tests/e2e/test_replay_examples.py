"""Every real payload example, replayed by the CLI through a real server, is ingested."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, select

from controltower.store.engine import make_engine
from controltower.store.tables import Delivery
from tests.support.dump import dump_facts
from tests.support.paths import EXAMPLES, HANDLED, example_files
from tests.support.reference import reference_dump
from tests.support.server import cli_env, run_cli, server, wait_until

SECRET = "replay-secret"


def states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {
            f"{event}:{guid}": state
            for guid, event, state in conn.execute(
                select(Delivery.guid, Delivery.event, Delivery.state)
            )
        }


def test_replaying_all_examples_through_the_endpoint_ingests_them(tmp_path: Path) -> None:
    """replay signs each example; the server stores all, normalizes handled ones, ignores others."""
    db = tmp_path / "ct.db"
    env = cli_env(
        data_dir=str(tmp_path / "data"),
        database_url=f"sqlite:///{db}",
        github__webhook_secret=SECRET,
    )
    files = sorted(EXAMPLES.rglob("*.json"))
    with server(env, tmp_path / "server.log") as srv:
        result = run_cli(
            "replay",
            str(EXAMPLES),
            "--url",
            f"{srv.url}/webhooks/github",
            "--secret",
            SECRET,
            "--json",
            env=env,
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["accepted"] == summary["files"] == len(files)
        engine = make_engine(f"sqlite:///{db}")
        wait_until(lambda: "pending" not in states(engine).values(), timeout=90)
        again = run_cli(
            "replay",
            str(EXAMPLES),
            "--url",
            f"{srv.url}/webhooks/github",
            "--secret",
            SECRET,
            "--json",
            env=env,
        )
        assert again.returncode == 0
    final = states(engine)
    assert len(final) == len(files)  # the second replay was deduplicated
    handled = {f"{path.parent.name}" for path in example_files()}
    for key, state in final.items():
        event = key.split(":", 1)[0]
        assert state == ("processed" if event in handled else "ignored"), key
    assert set(HANDLED) == handled
    facts = dump_facts(engine)
    engine.dispose()
    assert facts == reference_dump()
    assert all(
        facts[table]
        for table in (
            "runs",
            "jobs",
            "steps",
            "deployments",
            "deployment_statuses",
            "pushes",
            "pull_requests",
        )
    )


def test_replay_with_a_wrong_secret_is_refused_and_reported(tmp_path: Path) -> None:
    """Signed with the wrong secret, every delivery gets 401 and replay exits 1."""
    env = cli_env(
        data_dir=str(tmp_path / "data"),
        database_url=f"sqlite:///{tmp_path / 'ct.db'}",
        github__webhook_secret=SECRET,
    )
    with server(env, tmp_path / "server.log") as srv:
        result = run_cli(
            "replay",
            str(EXAMPLES / "ping"),
            "--url",
            f"{srv.url}/webhooks/github",
            "--secret",
            "not-the-secret",
            "--json",
            env=env,
        )
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 0
    assert summary["statuses"] == {"401": summary["files"]}
