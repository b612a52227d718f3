"""The command line as a user meets it: entry points, exit statuses, the demo."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from tests.support.deliveries import signed, workflow_run_payload
from tests.support.server import cli_env, free_port, run_cli, start


def test_python_dash_m_and_the_script_are_the_same_cli(tmp_path: Path) -> None:
    """`python -m controltower --help` lists the commands of the stable interface."""
    result = run_cli("--help", env=cli_env(data_dir=str(tmp_path)))
    assert result.returncode == 0
    for command in ("serve", "worker", "db", "import", "export", "replay", "demo"):
        assert command in result.stdout
    script = Path(sys.executable).with_name("controltower")
    assert subprocess.run([str(script), "--help"], capture_output=True, check=False).returncode == 0


def test_bad_configuration_exits_2_with_the_reason(tmp_path: Path) -> None:
    """An invalid setting in the environment stops any command with status 2."""
    env = cli_env(data_dir=str(tmp_path), server__port="not-a-port")
    result = run_cli("db", "upgrade", env=env)
    assert result.returncode == 2
    assert "server.port" in result.stderr


def test_a_typo_inside_alerts_exits_2_naming_it(tmp_path: Path) -> None:
    """alerts.rule (for rules) in the settings file is refused, not ignored for the default."""
    config = tmp_path / "ct.yaml"
    config.write_text("alerts:\n  rule:\n    - {name: CI, kinds: [failing-branch]}\n")
    result = run_cli("db", "upgrade", env=cli_env(data_dir=str(tmp_path), config=str(config)))
    assert result.returncode == 2
    assert "alerts.rule" in result.stderr


def test_serve_refuses_to_start_without_a_webhook_secret(tmp_path: Path) -> None:
    """No secret, no --insecure-no-webhook-secret: exit 2 and say which variable to set."""
    env = cli_env(data_dir=str(tmp_path))
    result = run_cli("serve", "--port", str(free_port()), env=env, timeout=120)
    assert result.returncode == 2
    assert "CONTROLTOWER_GITHUB__WEBHOOK_SECRET" in result.stderr


def test_demo_loads_real_history_and_serves_it(tmp_path: Path) -> None:
    """`controltower demo` imports the bundled sample, prints where to look, and shows runs."""
    port = free_port()
    elsewhere = tmp_path / "installation.db"  # configured, and left alone by the demo
    env = cli_env(data_dir=str(tmp_path / "demo"), database_url=f"sqlite:///{elsewhere}")
    demo = start(["demo", "--port", str(port)], env, tmp_path / "demo.log")
    try:
        deadline = time.monotonic() + 90
        page = None
        while time.monotonic() < deadline and demo.popen.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert page is not None, demo.log.read_text()
        assert page.status_code == 200
        assert "bmad-sim/bmad-ecosystem" in page.text  # a repository of the bundled sample
        api = httpx.get(f"http://127.0.0.1:{port}/api/v1/ingest", timeout=5).json()
        assert api["runs"] == 1500
        log = demo.log.read_text()
        assert re.search(rf"http://127\.0\.0\.1:{port}/", log)
        assert "1500 real GitHub Actions runs" in log
        assert "predictions on" in log
        # The history's anomalies were recorded: those over as resolved, marked on the charts.
        recorded = re.search(r"(\d+) anomalies going on, (\d+) recorded in all", log)
        assert recorded is not None, log
        anomalies = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/anomalies", params={"limit": 1000}, timeout=5
        ).json()
        assert len(anomalies) == int(recorded[2]) > int(recorded[1])
        assert sum(a["resolved_at"] is None for a in anomalies) == int(recorded[1])
        # The models were trained on the sample: version 1 on the runs before its newest
        # tenth, which it predicted as they were requested, then version 2 on all of it. No run
        # is in flight (those GitHub listed unfinished, months ago, have ended since).
        assert "(no run in flight)" in log
        replayed = re.search(r"(\d+) of the newest runs predicted as requested by version 1", log)
        assert replayed is not None, log
        assert int(replayed[1]) == 150
        assert "model version 2 live" in log
        base = f"http://127.0.0.1:{port}/api/v1"
        newest = f"http://127.0.0.1:{port}/repositories/pr3y/Bruce/runs/17328288199"
        run_page = httpx.get(newest, timeout=10).text
        assert 'id="prediction-heading"' in run_page
        assert "(version 1)" in run_page
        assert "inside the interval" in run_page or "outside the interval" in run_page
        # a run whose end never arrived: predicted, never scored
        stale = httpx.get(
            f"http://127.0.0.1:{port}/repositories/Opetushallitus/jod-yksilo-ui/runs/17321957043",
            timeout=10,
        ).text
        assert "end not known" in stale
        assert "the run&#39;s end never arrived" in stale or "the run's end never arrived" in stale
        # live accuracy scores them, in the weeks up to the sample's newest run
        accuracy = httpx.get(f"{base}/predictions/accuracy", timeout=30).json()
        assert accuracy["runs"] > 0
        assert accuracy["until"].startswith("2025-08-29")
        overview = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
        assert f"live, {accuracy['runs']} predicted runs completed" in overview
        versions = {v["version"]: v for v in httpx.get(f"{base}/models", timeout=10).json()}
        assert versions[1]["history_as_of"].startswith("2025-08")  # before the newest runs
        assert versions[2]["history_as_of"] is None
        assert "history as of 2025-08" in httpx.get(f"http://127.0.0.1:{port}/models").text
        hypothetical = httpx.post(
            f"{base}/predict",
            json={"repository": "pr3y/Bruce", "workflow": "Build and Push OR check-PR"},
            timeout=10,
        )
        assert hypothetical.status_code == 200, hypothetical.text
        assert hypothetical.json()["version"] == 2
        # The printed webhook secret verifies deliveries: signed with it, one is taken.
        printed = re.search(r"webhook secret \(demo\): (\w+)", log)
        assert printed is not None, log
        body, headers = signed("workflow_run", workflow_run_payload(987654321), printed[1])
        hook = f"http://127.0.0.1:{port}/webhooks/github"
        assert httpx.post(hook, content=body, headers=headers, timeout=10).status_code == 202
        _, forged = signed("workflow_run", workflow_run_payload(987654322), "not the secret")
        assert httpx.post(hook, content=body, headers=forged, timeout=10).status_code == 401
        assert f"database:        {tmp_path / 'demo' / 'demo.db'}" in log
        assert not elsewhere.exists()
    finally:
        demo.stop()


def test_a_database_that_does_not_answer_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """No traceback: which database and why, for every command that needs it."""
    env = cli_env(data_dir=str(tmp_path), database_url="postgresql://nobody@127.0.0.1:1/db")
    for command in (["db", "upgrade"], ["model", "list"], ["alerts", "list"]):
        result = run_cli(*command, env=env)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith("database error: ")
        assert "CONTROLTOWER_DATABASE_URL" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_file_that_cannot_be_written_is_named_and_exit_2(tmp_path: Path) -> None:
    """An export into a directory that does not exist says which path, without a traceback."""
    env = cli_env(data_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path / 'ct.db'}")
    assert run_cli("db", "upgrade", env=env).returncode == 0
    target = tmp_path / "missing" / "runs.csv"
    result = run_cli("export", "runs", "--format", "csv", "-o", str(target), env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: No such file or directory: {target}"


def test_serve_on_a_port_in_use_is_exit_2_before_anything_starts(tmp_path: Path) -> None:
    """Another process holds the port: say so and exit 2, with no worker started."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = cli_env(data_dir=str(tmp_path), github__webhook_secret="s")
        result = run_cli("serve", "--port", str(port), env=env, timeout=120)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "listening on" not in result.stderr


@pytest.mark.parametrize("command", [("worker",), ("serve", "--port", "0")])
def test_a_worker_whose_redis_queue_does_not_answer_is_one_line_and_exit_2(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """Nothing listens where the queue should be: say where and exit 2, no traceback a second."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing answers there
    env = cli_env(
        data_dir=str(tmp_path),
        github__webhook_secret="s",
        queue_url=f"redis://127.0.0.1:{port}/9",
    )
    assert run_cli("db", "upgrade", env=env).returncode == 0
    result = run_cli(*command, env=env, timeout=120)
    assert result.returncode == 2
    assert f"cannot reach the queue at redis://127.0.0.1:{port}/9" in result.stderr
    assert "Traceback" not in result.stderr


def test_upgrading_to_a_revision_that_does_not_exist_is_exit_2(tmp_path: Path) -> None:
    """A mistyped revision names itself and the newest there is; the database is untouched."""
    env = cli_env(data_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path / 'ct.db'}")
    result = run_cli("db", "upgrade", "nosuchrev", env=env)
    assert result.returncode == 2
    assert "cannot upgrade to 'nosuchrev'" in result.stderr
    assert "Traceback" not in result.stderr
    assert run_cli("db", "current", env=env).stdout.strip() == "empty"


def test_version_is_the_installed_package_s(tmp_path: Path) -> None:
    """`controltower --version` prints the version the package was installed as, exit 0."""
    result = run_cli("--version", env=cli_env(data_dir=str(tmp_path)))
    assert result.returncode == 0
    assert result.stdout.strip() == f"controltower {version('controltower')}"
