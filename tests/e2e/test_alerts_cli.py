"""``controltower alerts`` as an operator runs it: list, acknowledge, silence, and refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from controltower.cli.app import app
from controltower.config import AlertRule
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.tables import Silence, table_of
from controltower.telemetry.activity import Problem
from controltower.telemetry.alerts import evaluate
from tests.support.server import cli_env, run_cli

FAILING = Problem("failing-branch", "warning", "CI is failing on main", "x", None, "org/app", 7)
BACKLOG = Problem("ingest-backlog", "critical", "12000 deliveries waiting", "y")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A database with two firing alerts, and the environment that points the CLI at it."""
    url = f"sqlite:///{tmp_path / 'ct.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    with engine.begin() as conn:
        evaluate(conn, [FAILING, BACKLOG], [AlertRule(name="all")], datetime.now(UTC))
    engine.dispose()
    return {"CONTROLTOWER_DATA_DIR": str(tmp_path), "CONTROLTOWER_DATABASE_URL": url}


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def _json(env: dict[str, str], *args: str) -> Any:
    result = _run(env, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_acknowledge_and_unacknowledge(env: dict[str, str]) -> None:
    """list shows firing alerts worst first; ack marks one with who and why; unack clears it."""
    listed = _json(env, "alerts", "list")
    assert isinstance(listed, list)
    assert [a["title"] for a in listed] == [BACKLOG.title, FAILING.title]
    alert_id = str(listed[1]["id"])
    acked = _json(env, "alerts", "ack", alert_id, "--by", "ana", "--note", "on it")
    assert acked == {**acked, "acknowledged": True, "acknowledged_by": "ana", "ack_note": "on it"}
    table = _run({**env, "COLUMNS": "200"}, "alerts", "list")
    assert table.exit_code == 0
    assert "acknowledged by ana: on it" in table.stdout
    assert "repository" in table.stdout.splitlines()[1]  # the header, under the top border
    assert "org/app" in table.stdout
    assert "(installation)" in table.stdout
    assert _json(env, "alerts", "unack", alert_id) == {
        **acked,
        "acknowledged": False,
        "acknowledged_by": None,
        "ack_note": None,
        "acknowledged_at": None,
    }


def test_silence_list_and_unsilence(env: dict[str, str], tmp_path: Path) -> None:
    """A silence for 2 h marks the matching alert; unsilence ends it and keeps it as history."""
    made = _json(env, "alerts", "silence", "--repo", "org/*", "--for", "2h", "--reason", "rollout")
    assert isinstance(made, dict)
    ends = datetime.fromisoformat(made["ends_at"]) - datetime.fromisoformat(made["starts_at"])
    assert ends == timedelta(hours=2)
    assert made["active"] is True
    listed = _json(env, "alerts", "list")
    assert isinstance(listed, list)
    assert [(a["title"], a["silenced_by"]) for a in listed] == [
        (BACKLOG.title, None),
        (FAILING.title, made["id"]),
    ]
    assert [s["id"] for s in _json(env, "alerts", "silences")] == [made["id"]]
    ended = _json(env, "alerts", "unsilence", str(made["id"]))
    assert isinstance(ended, dict)
    assert ended["active"] is False
    assert _json(env, "alerts", "silences") == []
    assert [s["id"] for s in _json(env, "alerts", "silences", "--all")] == [made["id"]]


def test_a_silence_can_start_later(env: dict[str, str]) -> None:
    """--from sets the start; it is listed before it starts but marks nothing yet."""
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    made = _json(
        env, "alerts", "silence", "--from", start.isoformat(), "--for", "1h", "--reason", "later"
    )
    assert datetime.fromisoformat(made["starts_at"]) == start
    assert made["active"] is False
    assert [s["id"] for s in _json(env, "alerts", "silences")] == [made["id"]]
    assert [a["silenced"] for a in _json(env, "alerts", "list")] == [False, False]


@pytest.mark.parametrize(
    "args",
    [
        ["--reason", "x"],
        ["--reason", "x", "--for", "2h", "--until", "2099-01-01T00:00"],
        ["--reason", "x", "--for", "two hours"],
        ["--reason", "x", "--until", "tomorrow"],
        ["--reason", "x", "--until", "2001-01-01T00:00"],
        ["--reason", " ", "--for", "1h"],
        ["--for", "1h"],
        ["--reason", "x", "--for", "1h", "--from", "next week"],
    ],
)
def test_bad_silences_are_bad_usage_and_store_nothing(
    env: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    """Exit status 2 with a reason on standard error, nothing on standard output, no row."""
    result = _run(env, "alerts", "silence", *args, "--json")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    engine = make_engine(env["CONTROLTOWER_DATABASE_URL"])
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(table_of(Silence))).scalar_one()
    engine.dispose()
    assert count == 0


def test_unknown_ids_exit_1_with_a_message(env: dict[str, str]) -> None:
    """Acknowledging or unsilencing what does not exist is a problem found: exit 1, said why."""
    process_env = cli_env(
        data_dir=env["CONTROLTOWER_DATA_DIR"], database_url=env["CONTROLTOWER_DATABASE_URL"]
    )
    missing = run_cli("alerts", "ack", "999", "--by", "ana", "--json", env=process_env)
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert "no alert 999" in missing.stderr
    gone = run_cli("alerts", "unsilence", "77", env=process_env)
    assert gone.returncode == 1
    assert "no silence 77" in gone.stderr
