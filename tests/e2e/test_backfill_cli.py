"""``controltower backfill`` as a user runs it, against the fake GitHub server: killed, resumed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from controltower.store.engine import make_engine
from controltower.store.tables import BackfillCheckpoint, WorkflowRun, table_of
from tests.support.github_history import generate
from tests.support.github_server import FakeGitHub, serve
from tests.support.server import cli_env, run_cli, start

REPO = "octo-org/octo-repo"
ARGS = [
    "backfill",
    "--repository",
    REPO,
    "--since",
    "2026-01-01",
    "--until",
    "2026-01-02",
    "--json",
]


def test_sigkill_then_resume_fetches_everything_once(tmp_path: Path) -> None:
    """SIGKILL after the first windows are stored; the second run resumes and completes."""
    fake = FakeGitHub(
        [generate(REPO, runs=60, rerun_every=0)], listing_cap=10, latency_s=(0.04, 0.08)
    )
    url = f"sqlite:///{tmp_path / 'ct.db'}"
    with serve(fake) as api:
        env = cli_env(
            database_url=url,
            github__token="test-token",
            github__api_url=api,
            github__listing_cap="10",
            github__per_page="5",
        )
        process = start(ARGS, env, tmp_path / "first.log")
        engine = make_engine(url)
        checkpoints = table_of(BackfillCheckpoint)
        deadline = time.monotonic() + 60
        done = None
        while done is None and time.monotonic() < deadline and process.popen.poll() is None:
            time.sleep(0.05)
            try:
                with engine.connect() as conn:
                    done = conn.execute(select(checkpoints.c.done_until)).scalar()
            except Exception:  # noqa: BLE001 - the table appears when the CLI has migrated
                done = None
        process.kill()
        with engine.connect() as conn:
            stored_before = conn.execute(select(func.count()).select_from(WorkflowRun)).scalar_one()
        assert done is not None, (tmp_path / "first.log").read_text()
        assert 0 < stored_before < 60
        result = run_cli(*ARGS, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["resumed"] == [REPO]
    assert report["runs"] < 60
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(WorkflowRun)).scalar() == 60
        assert conn.execute(select(checkpoints.c.finished_at)).scalar() is not None
    engine.dispose()


def test_backfill_needs_a_repository_or_organization(tmp_path: Path) -> None:
    """Without --repo or --org the command explains itself and exits 2."""
    result = run_cli("backfill", env=cli_env(data_dir=str(tmp_path)))
    assert result.returncode == 2
    assert "--repo OWNER/NAME" in result.stderr


def test_reconcile_command_fetches_what_no_webhook_delivered(tmp_path: Path) -> None:
    """With nothing delivered, every recent run is missing: fetched, completeness 0."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    fake = FakeGitHub([generate(REPO, runs=6, start=start, rerun_every=0)])
    with serve(fake) as api:
        env = cli_env(
            database_url=f"sqlite:///{tmp_path / 'ct.db'}",
            github__token="test-token",
            github__api_url=api,
        )
        result = run_cli("reconcile", "--repo", REPO, "--json", env=env)
    assert result.returncode == 0, result.stderr
    (report,) = json.loads(result.stdout)
    assert (report["listed"], report["arrived"], report["missing"]) == (6, 0, 6)
    assert report["completeness"] == 0.0
