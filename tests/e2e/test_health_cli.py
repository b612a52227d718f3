"""``controltower health`` as an operator or a probe runs it: exit status and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from controltower.store.engine import make_engine
from tests.support.server import cli_env, run_cli
from tests.support.waiting import store_pending


def _pending(database: Path, count: int) -> None:
    engine = make_engine(f"sqlite:///{database}")
    try:
        store_pending(engine, count)
    finally:
        engine.dispose()


def test_health_exit_status_follows_the_checks(tmp_path: Path) -> None:
    """Failing before migration (2), healthy after (0), degraded over the backlog warning (1)."""
    env = cli_env(
        data_dir=str(tmp_path),
        telemetry__problems__backlog_warning="2",
        telemetry__problems__backlog_critical="100",
    )
    failing = run_cli("health", "--json", env=env)
    assert failing.returncode == 2, failing.stderr
    document = json.loads(failing.stdout)
    assert document["status"] == "failing"
    database = document["checks"][0]
    assert (database["name"], database["status"]) == ("database", "failing")
    assert "no database at" in database["detail"]
    assert "db upgrade" in database["detail"]
    assert not (tmp_path / "controltower.db").exists()  # a check creates nothing

    assert run_cli("db", "upgrade", env=env).returncode == 0
    healthy = run_cli("health", "--json", env=env)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    checks = {c["name"]: c for c in json.loads(healthy.stdout)["checks"]}
    assert set(checks) == {
        "database",
        "queue",
        "queue-backlog",
        "ingest-freshness",
        "model",
        "notifications",
    }
    assert checks["queue-backlog"]["pending"] == 0
    assert checks["ingest-freshness"]["status"] == "info"

    _pending(tmp_path / "controltower.db", 2)
    degraded = run_cli("health", env=env)
    assert degraded.returncode == 1
    assert "controltower is degraded" in degraded.stdout
    assert "2 deliveries waiting" in degraded.stdout


def test_commands_that_only_read_create_no_database_where_a_path_is_mistyped(
    tmp_path: Path,
) -> None:
    """A mistyped SQLite path is said, and neither its directory nor an empty file is left.

    Printed to a pipe, the health table's row keeps the reason on one line.
    """
    missing = tmp_path / "typo" / "controltower.db"
    env = cli_env(data_dir=str(tmp_path), database_url=f"sqlite:///{missing}")
    for command in (
        ("health", "--json"),
        ("db", "current"),
        ("anomaly", "list"),
        ("model", "list"),
    ):
        result = run_cli(*command, env=env)
        assert result.returncode in (1, 2), command
        assert f"no database at {missing}" in result.stdout + result.stderr, command
    assert not missing.parent.exists()
    assert run_cli("db", "upgrade", env=env).returncode == 0  # the command that creates it
    assert missing.exists()
