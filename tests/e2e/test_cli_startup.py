"""Start-up of the command line: a command loads only what it uses.

Every command is run by people at a prompt and by scripts in loops
(``controltower health`` from a monitor, ``alerts ack`` from a chat bot), so
``--help`` and the light commands must not pay for the database layer, the
models or the web stack. Python's ``-X importtime`` lists every module a
process imported; these tests read that list.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import cli_env

# What the light paths must not load: the store, migrations, GitHub's models,
# the numeric and learning stack, the web stack, the queue and notifications.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "githubkit",
    "numpy",
    "lightgbm",
    "sklearn",
    "scipy",
    "fastapi",
    "uvicorn",
    "huey",
    "apprise",
    "pydantic_settings",
    "structlog",
)
# What ``health`` needs (the database) but must not load (models, web, queue, notifications).
NOT_FOR_HEALTH = ("lightgbm", "sklearn", "scipy", "fastapi", "uvicorn", "huey", "apprise")


def _imported(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "controltower", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    modules = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return result, modules


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("alerts", "--help"),
        ("model", "--help"),
        ("anomaly", "detect", "--help"),
        ("backfill", "--help"),
    ],
)
def test_help_loads_no_heavy_library(tmp_path: Path, args: tuple[str, ...]) -> None:
    """``--help`` of the root and of commands lists the commands without the heavy libraries."""
    result, modules = _imported(*args, env=cli_env(data_dir=str(tmp_path)))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Usage" in result.stdout
    assert modules, "no import was listed: -X importtime gave nothing to check"
    assert "typer" in modules
    assert sorted(modules.intersection(HEAVY)) == []


def test_health_loads_the_database_layer_only(tmp_path: Path) -> None:
    """``health`` reads the database; it loads neither the models nor the web or queue stack."""
    env = cli_env(data_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path / 'ct.db'}")
    upgrade = subprocess.run(
        [sys.executable, "-m", "controltower", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    result, modules = _imported("health", "--json", env=env)
    assert result.returncode in (0, 1, 2), result.stderr[-2000:]
    assert '"checks"' in result.stdout
    assert "sqlalchemy" in modules
    assert sorted(modules.intersection(NOT_FOR_HEALTH)) == []
