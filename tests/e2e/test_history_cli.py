"""``controltower import`` and ``export runs`` as a user runs them, on the real datasets."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from controltower.store import schema
from controltower.store.engine import make_engine
from tests.support.dump import dump_facts
from tests.support.paths import DATASETS
from tests.support.server import cli_env, run_cli
from tests.support.templates import copy_database

SMALL = ("gha-microservices-5repos.jsonl.gz", "gha-flask-requests-django-petclinic.jsonl.gz")
FILES = [str(DATASETS / name) for name in SMALL]


@dataclass(frozen=True)
class Imported:
    """A SQLite file the GitHub Actions datasets were imported into, the report, the rows."""

    path: Path
    report: dict[str, Any]
    dump: dict[str, list[object]]

    def copy_to(self, folder: Path) -> str:
        """A copy of the file in ``folder`` for one test to change; its URL."""
        return copy_database(self.path, folder / "imported.db")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Imported:
    """Both GitHub Actions datasets imported once, by the CLI, into an empty SQLite file."""
    work = tmp_path_factory.mktemp("imported")
    path = work / "ct.db"
    result = run_cli("import", *FILES, "--json", env=_env(work, f"sqlite:///{path}"))
    assert result.returncode == 0, result.stderr
    return Imported(path, json.loads(result.stdout), _dump(f"sqlite:///{path}"))


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    return cli_env(data_dir=str(tmp_path / "data"), database_url=url)


def _dump(url: str) -> dict[str, list[object]]:
    engine: Engine = make_engine(url)
    try:
        return dump_facts(engine)
    finally:
        engine.dispose()


def _first_import(
    tmp_path: Path, database_url: str, imported: Imported
) -> tuple[str, dict[str, Any], dict[str, list[object]]]:
    """The database imported into, the report and the rows: SQLite's copy the module's import."""
    if database_url.startswith("sqlite"):
        return imported.copy_to(tmp_path), imported.report, imported.dump
    first = run_cli("import", *FILES, "--json", env=_env(tmp_path, database_url))
    assert first.returncode == 0, first.stderr
    return database_url, json.loads(first.stdout), _dump(database_url)


def test_datasets_import_idempotently(
    tmp_path: Path, database_url: str, imported: Imported
) -> None:
    """The GitHub Actions datasets import whole; importing them again stores nothing new."""
    database_url, report, before = _first_import(tmp_path, database_url, imported)
    env = _env(tmp_path, database_url)
    assert report["records"] == report["stored"] == 6826 + 2477
    assert report["rejected"] == 0
    second = json.loads(run_cli("import", *FILES, "--json", env=env).stdout)
    assert (second["stored"], second["unchanged"]) == (0, 6826 + 2477)
    assert _dump(database_url) == before
    assert len(before["jobs"]) > 6826
    assert len(before["steps"]) > len(before["jobs"])


@pytest.mark.slow
def test_travis_dataset_imports_whole(tmp_path: Path) -> None:
    """All 188,429 Travis CI builds import on the embedded default, none rejected."""
    env = _env(tmp_path, f"sqlite:///{tmp_path / 'ct.db'}")
    result = run_cli("import", str(DATASETS / "travis-builds-2021.jsonl.gz"), "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["records"] == report["stored"] == 188_429


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_imports_back_as_the_same_rows(tmp_path: Path, fmt: str, imported: Imported) -> None:
    """export runs, imported into an empty database, gives the same rows (jobs and steps too)."""
    source = imported.copy_to(tmp_path)
    target = f"sqlite:///{tmp_path / 'b.db'}"
    out = tmp_path / f"runs.{fmt}"
    exported = run_cli(
        "export", "runs", "--format", fmt, "-o", str(out), env=_env(tmp_path, source)
    )
    assert exported.returncode == 0, exported.stderr
    back = run_cli("import", str(out), "--json", env=_env(tmp_path, target))
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["stored"] == 6826 + 2477
    assert _dump(target) == imported.dump


def test_bad_records_are_rejected_by_line_and_the_rest_imported(tmp_path: Path) -> None:
    """Broken lines are reported with their numbers, exit status 1, and leave nothing behind."""
    lines = [
        {"repository": "o/r", "run_id": 1, "run_number": 1, "conclusion": "success"},
        "this is not json",
        {"repository": "o/r", "run_id": 2, "run_number": 2, "conclusion": "exploded"},
        {
            "repository": "o/r",
            "run_id": 3,
            "run_number": 3,
            "conclusion": "failure",
            "jobs": [{"name": "ok"}, {"conclusion": "success"}],
        },
        {"repository": "o/r", "run_id": 4, "run_number": 4, "conclusion": "failure"},
    ]
    path = tmp_path / "runs.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        for line in lines:
            handle.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    url = f"sqlite:///{tmp_path / 'ct.db'}"
    result = run_cli("import", str(path), "--json", env=_env(tmp_path, url))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [r["line"] for r in report["rejections"]] == [2, 3, 4]
    assert "jobs[1].name is required" in report["rejections"][2]["reason"]
    assert report["stored"] == 2
    dump = _dump(url)
    assert len(dump["runs"]) == 2
    assert dump["jobs"] == []  # nothing half-written of the rejected run 3


def test_unknown_file_kind_is_a_clear_error_and_imports_nothing(tmp_path: Path) -> None:
    """A .txt file is refused before anything is read; the database stays empty."""
    path = tmp_path / "runs.txt"
    path.write_text("{}\n")
    url = f"sqlite:///{tmp_path / 'ct.db'}"
    result = run_cli("import", str(path), env=_env(tmp_path, url))
    assert result.returncode == 1
    assert "not a .jsonl or .csv file" in result.stderr
    engine = make_engine(url)
    assert schema.current_revision(engine) is not None
    assert _dump(url)["runs"] == []
    engine.dispose()


def test_a_truncated_or_false_archive_keeps_what_it_could_read_and_says_where_it_broke(
    tmp_path: Path,
) -> None:
    """A download cut short: the records before the break are stored, the break is a rejection
    with its line, exit status 1; a file that is no gzip at all stores nothing, the same way."""
    whole = tmp_path / "whole.jsonl.gz"
    with gzip.open(whole, "wt") as handle:
        for n in range(1, 3001):
            record = {"repository": "o/r", "run_id": n, "run_number": n, "conclusion": "success"}
            handle.write(json.dumps(record) + "\n")
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    false = tmp_path / "false.jsonl.gz"
    false.write_text("not gzip\n")
    url = f"sqlite:///{tmp_path / 'ct.db'}"
    result = run_cli("import", str(cut), str(false), "--json", env=_env(tmp_path, url))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    [broken, not_gzip] = report["rejections"]
    assert broken["reason"] == "unreadable from here on: the file ends early (truncated)"
    assert broken["line"] == report["stored"] + 1 > 1000
    assert (not_gzip["line"], "Not a gzipped file" in not_gzip["reason"]) == (1, True)
    assert len(_dump(url)["runs"]) == report["stored"]
