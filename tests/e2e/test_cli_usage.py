"""The command line's repository options, usage mistakes and help, run in-process."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from controltower.cli.app import app, main
from controltower.ingest.history import parse_record
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.writer import FactWriter

STORED = "Octo-Org/App_JS"
OTHER = "octo-org/other"


def _run(run_id: int, day: int, repository: str = STORED) -> dict[str, Any]:
    return {
        "repository": repository,
        "run_id": run_id,
        "workflow": "CI",
        "branch": "main",
        "event": "push",
        "conclusion": "success",
        "created_at": f"2026-06-{day:02d}T08:00:00+00:00",
        "completed_at": f"2026-06-{day:02d}T08:10:00+00:00",
        "jobs": [{"name": "test", "conclusion": "success"}],
    }


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database with three runs of ``Octo-Org/App_JS`` (June 1, 2, 3) and one of another
    repository, which the commands read."""
    url = f"sqlite:///{tmp_path / 'ct.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    records = [_run(1, 1), _run(2, 2), _run(3, 3), _run(4, 2, repository=OTHER)]
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in records])
    engine.dispose()
    for name in [n for n in os.environ if n.startswith("CONTROLTOWER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CONTROLTOWER_DATABASE_URL", url)
    monkeypatch.setenv("CONTROLTOWER_DATA_DIR", str(tmp_path))


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit status, standard output and standard error of ``controltower ARGS``, as the
    script runs it (its error handling included)."""
    try:
        main(list(args))
        status = 0
    except SystemExit as exc:
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.usefixtures("store")
def test_export_takes_a_repository_in_any_case_and_a_period(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--repo`` (or ``--repository``) in any case selects the repository, named as stored;
    ``--since``/``--until`` (days or times, UTC; the end excluded) the runs created then."""
    status, out, err = _cli(capsys, "export", "runs", "--repo", "octo-org/app_js")
    assert status == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["repository"], r["run_id"]) for r in records] == [
        (STORED, 1),
        (STORED, 2),
        (STORED, 3),
    ]
    status, out, err = _cli(
        capsys,
        "export", "runs", "--format", "csv", "--repository", "OCTO-ORG/APP_JS",
        "--since", "2026-06-02", "--until", "2026-06-03T08:00:00",
    )  # fmt: skip
    assert status == 0, err
    assert [r["run_id"] for r in csv.DictReader(io.StringIO(out))] == ["2"]
    assert "exported 1 run" in err
    status, out, err = _cli(capsys, "export", "jobs", "--until", "2026-06-03")
    assert status == 0, err
    jobs = sorted((r["repository"], r["run_id"]) for r in csv.DictReader(io.StringIO(out)))
    assert jobs == [(STORED, "1"), (STORED, "2"), (OTHER, "4")]
    status, out, err = _cli(capsys, "export", "jobs", "--repo", "OCTO-org/Other")
    assert [r["repository"] for r in csv.DictReader(io.StringIO(out))] == [OTHER]
    status, out, err = _cli(capsys, "export", "metrics", "--repo", "octo-org/APP_JS")
    assert status == 0, err
    assert [r["group"] for r in csv.DictReader(io.StringIO(out))] == [STORED]


@pytest.mark.usefixtures("store")
@pytest.mark.parametrize("command", ["runs", "jobs", "metrics"])
def test_an_unknown_repository_is_a_usage_error_naming_it(
    command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Exit status 2, "usage error" and the name; no file is left behind."""
    out = tmp_path / "out.csv"
    status, _, err = _cli(capsys, "export", command, "--repo", "octo-org/nope", "-o", str(out))
    assert status == 2
    assert err.startswith("usage error: ")
    assert "no repository octo-org/nope is stored" in err
    assert not out.exists()


@pytest.mark.usefixtures("store")
@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["export", "metrics", "--group-by", "team"], "--group-by team"),
        (["export", "jobs", "--format", "parquet"], "-o"),
        (["export", "runs", "--since", "2026-06-03", "--until", "2026-06-01"], "--since"),
        (["backfill"], "--repo OWNER/NAME"),
        (["backfill", "--repo", "octo"], "expected OWNER/NAME"),
        (["db", "upgrade", "nope"], "cannot upgrade to 'nope'"),
        (["alerts", "silence", "--reason", "x", "--until", "tomorrow"], "--until 'tomorrow'"),
        (["alerts", "silence", "--reason", "x", "--for", "99999999999d"], "at most 366 days"),
        (
            ["alerts", "silence", "--reason", "x", "--from", "9999-12-31T23:00:00", "--for", "2h"],
            "past the year 9999",
        ),
    ],
)
def test_usage_mistakes_are_usage_errors(
    args: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad value or a wrong combination of options: exit status 2, said to be usage."""
    status, _, err = _cli(capsys, *args)
    assert status == 2
    assert err.startswith("usage error: ")
    assert reason in err


@pytest.mark.usefixtures("store")
def test_bad_settings_stay_a_configuration_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A setting that cannot work is not the command line's fault."""
    monkeypatch.setenv("CONTROLTOWER_SERVER__PORT", "not-a-port")
    status, _, err = _cli(capsys, "export", "runs", "--repo", "octo-org/nope")
    assert status == 2
    assert err.startswith("configuration error: ")


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _command_paths(sub, (*path, name))
    return found


def test_help_of_every_command_shows_no_type_for_flags() -> None:
    """A flag takes no value: no ``<bool>`` beside ``--json`` or ``--help``; several files are
    ``<path>...``, not Python's ``<list[Path]>``; options that take a repository or a date say
    so."""
    paths = _command_paths(typer.main.get_command(app))
    assert ("export", "runs") in paths
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, path
        assert "<bool>" not in result.stdout, path
        assert "list[" not in result.stdout, path
        assert "--help" in result.stdout, path
    shown = runner.invoke(app, ["import", "--help"], env={"COLUMNS": "200"}).stdout
    assert "<path>..." in shown
    for path in (("export", "runs"), ("export", "jobs"), ("export", "metrics"), ("backfill",)):
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).stdout
        assert "OWNER/NAME" in shown, path
        assert "--repo" in shown, path
    for path in (("export", "runs"), ("export", "jobs"), ("backfill",)):
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).stdout
        assert "--since" in shown, path
        assert "--until" in shown, path
        assert "DATE" in shown, path
        assert "%Y" not in shown, path


@pytest.mark.parametrize(
    "args",
    [
        ["alerts", "ack", "99999999999999999999"],
        ["alerts", "unack", "0"],
        ["alerts", "unsilence", "2147483648"],
        ["anomaly", "confirm", "99999999999"],
        ["model", "promote", "99999999999"],
    ],
)
def test_an_id_no_row_can_have_is_refused_before_any_query(args: list[str]) -> None:
    """Past what an id column holds (the database failed with an OverflowError), or below 1."""
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "Invalid value for" in result.output
