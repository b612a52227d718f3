"""``controltower export`` of runs, jobs and metrics as CSV and Parquet."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.support.server import cli_env, run_cli
from tests.support.templates import copy_database


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, microservices_db: Path) -> dict[str, str]:
    """A database holding the microservices dataset (6,826 runs, 15,914 jobs)."""
    work = tmp_path_factory.mktemp("exports")
    return cli_env(data_dir=str(work), database_url=copy_database(microservices_db, work / "ct.db"))


def test_jobs_to_parquet_keep_every_job_with_typed_columns(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Every job is a row; timestamps are UTC timestamps and durations are seconds."""
    out = tmp_path / "jobs.parquet"
    result = run_cli("export", "jobs", "--format", "parquet", "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    assert table.num_rows == 15914
    assert str(table.schema.field("started_at").type) == "timestamp[us, tz=UTC]"
    rows = table.slice(0, 200).to_pylist()
    with_times = [r for r in rows if r["started_at"] and r["completed_at"]]
    assert with_times
    for r in with_times:
        assert r["duration_s"] == (r["completed_at"] - r["started_at"]).total_seconds()


def test_runs_to_parquet_are_flat(env: dict[str, str], tmp_path: Path) -> None:
    """Runs come out one row each, with the job count instead of nested jobs."""
    out = tmp_path / "runs.parquet"
    assert run_cli("export", "runs", "--format", "parquet", "-o", str(out), env=env).returncode == 0
    table = pq.read_table(out)
    assert table.num_rows == 6826
    assert sum(table.column("jobs").to_pylist()) == 15914


def test_metrics_to_csv_carry_previous_and_change(env: dict[str, str]) -> None:
    """Each repository is a row with its figures, the previous window's, and the change."""
    result = run_cli("export", "metrics", "--days", "90", env=env)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["group"] for r in rows} == {
        "bmad-sim/bmad-ecosystem",
        "hmcts/ccpay-payment-app",
        "collinbarrett/FilterLists",
        "Opetushallitus/jod-yksilo-ui",
        "pr3y/Bruce",
    }
    for row in rows:
        if row["previous_runs"]:
            assert int(row["change_runs"]) == int(row["runs"]) - int(row["previous_runs"])


def test_parquet_needs_a_file(env: dict[str, str]) -> None:
    """Binary output to a terminal is refused with status 2 and a reason."""
    result = run_cli("export", "jobs", "--format", "parquet", env=env)
    assert result.returncode == 2
    assert "-o" in result.stderr


def test_metrics_of_a_repository_not_stored_is_refused_and_any_case_finds_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A typo is a usage error (exit 2) naming it; no empty file is left. Another case is the
    same repository (as on GitHub), named as stored."""
    out = tmp_path / "m.csv"
    result = run_cli("export", "metrics", "--repository", "nope/nope", "-o", str(out), env=env)
    assert result.returncode == 2
    assert "usage error: --repo nope/nope: no repository nope/nope is stored" in result.stderr
    assert not out.exists()
    for spelling in ("--repository", "--repo"):  # as `backfill --repo` and `alerts` spell it
        for name in ("pr3y/Bruce", "PR3Y/bruce"):
            one = run_cli("export", "metrics", spelling, name, "--days", "90", env=env)
            assert [r["group"] for r in csv.DictReader(io.StringIO(one.stdout))] == ["pr3y/Bruce"]
