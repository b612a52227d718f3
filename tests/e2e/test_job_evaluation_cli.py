"""``controltower model evaluate --jobs`` on a slice of a real dataset with jobs, file and DB."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from controltower.cli.app import app
from controltower.intelligence.metrics import DURATION_FIGURES, OUTCOME_FIGURES
from tests.support.paths import DATASETS
from tests.support.server import cli_env, run_cli


def _slice(folder: Path, dataset: str, every: int) -> Path:
    path = folder / f"{dataset}.slice.jsonl"
    with gzip.open(DATASETS / dataset, "rt") as source:
        path.write_text("".join(line for i, line in enumerate(source) if i % every == 0))
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every fourth run of the microservices dataset, jobs included."""
    return _slice(tmp_path_factory.mktemp("jobs"), "gha-microservices-5repos.jsonl.gz", 4)


@pytest.fixture(scope="module")
def file_report(tmp_path_factory: pytest.TempPathFactory, history: Path) -> dict[str, Any]:
    """``model evaluate --jobs --json --dataset`` on the slice, run once for the module."""
    result = CliRunner().invoke(
        app,
        ["model", "evaluate", "--jobs", "--json", "--dataset", str(history)],
        env={"CONTROLTOWER_DATA_DIR": str(tmp_path_factory.mktemp("report"))},
    )
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_job_report_from_a_file_scores_served_predictors_beside_baselines(
    file_report: dict[str, Any],
) -> None:
    """The JSON report: counts, outcome and duration figures three ways, per predictor."""
    report = file_report
    assert 0 < report["expected"] <= report["test_jobs"]
    outcome, duration = report["outcome"], report["duration"]
    assert set(outcome["pooled"]) == {"model", "history_rate", "previous", "always_pass"}
    assert set(outcome["pooled"]["previous"]) == set(OUTCOME_FIGURES)
    assert set(duration["pooled"]["median5_interval"]) == set(DURATION_FIGURES)
    assert outcome["pooled"]["always_pass"]["recall"] == 0.0
    assert duration["pooled"]["median5_interval"]["coverage_80"] > 0.3
    assert len(duration["per_repository"]) == 5


def test_the_database_gives_the_report_the_file_gives(
    tmp_path: Path, history: Path, file_report: dict[str, Any]
) -> None:
    """Imported, then evaluated from the stored runs and jobs: the same figures."""
    env = cli_env(data_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path}/ct.db")
    assert run_cli("import", str(history), env=env).returncode == 0
    stored = run_cli("model", "evaluate", "--jobs", "--json", env=env)
    assert stored.returncode == 0, stored.stderr
    assert json.loads(stored.stdout) == file_report


def test_a_history_without_jobs_says_so(tmp_path: Path) -> None:
    """Travis builds carry no jobs: exit 1 and a message."""
    travis = _slice(tmp_path, "travis-builds-2021.jsonl.gz", 200)
    result = CliRunner().invoke(
        app,
        ["model", "evaluate", "--jobs", "--dataset", str(travis)],
        env={"CONTROLTOWER_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 1
    assert "no run history with jobs" in result.output


def test_the_job_model_is_scored_beside_the_baselines_and_serves_only_when_better(
    file_report: dict[str, Any],
) -> None:
    """The model reads the run's features with the job's record: it ranks failures better."""
    pooled = file_report["outcome"]["pooled"]
    assert file_report["model"]["kind"] == "job_failure_model"
    assert 0.0 < file_report["model"]["threshold"] < 1.0
    assert pooled["model"]["auc"] > pooled["previous"]["auc"]
    assert pooled["model"]["brier"] < pooled["always_pass"]["brier"]
    best = max(pooled[name]["f1"] for name in ("history_rate", "previous", "always_pass"))
    by_model = pooled["model"]["f1"] > best
    assert file_report["served"]["failure_predicted"] == ("model" if by_model else "previous")
    assert file_report["served"]["failure_probability"] == ("model" if by_model else "history_rate")
    auc = file_report["margins"]["outcome"]["pooled"]["auc"]
    assert auc["against"] == max(
        ("history_rate", "previous", "always_pass"), key=lambda name: pooled[name]["auc"]
    )
    assert auc["difference"] == pytest.approx(
        pooled["model"]["auc"] - pooled[auc["against"]]["auc"]
    )
    assert auc["low"] <= auc["high"]


def test_the_job_duration_model_is_scored_beside_the_baselines_and_serves_only_when_better(
    file_report: dict[str, Any],
) -> None:
    """The duration model's figures beside the median of five's and the previous duration's;
    it serves job durations only where its pooled MdAPE beats both."""
    pooled = file_report["duration"]["pooled"]
    assert file_report["duration_model"]["kind"] == "job_duration_model"
    assert set(pooled) == {"model", "median5_interval", "previous"}
    assert set(pooled["model"]) == set(DURATION_FIGURES)
    mdape = {name: figures["mdape"] for name, figures in pooled.items()}
    better = mdape["model"] < min(mdape["median5_interval"], mdape["previous"])
    assert file_report["served"]["duration"] == ("model" if better else "median5_interval")
    assert set(file_report["margins"]["duration"]["pooled"]) == {"mdape", "within_20", "within_50"}


def test_on_validation_scores_the_slice_before_the_test_period(
    tmp_path: Path, history: Path, file_report: dict[str, Any]
) -> None:
    """``--jobs --on-validation``: fewer runs scored, said so in the report."""
    result = CliRunner().invoke(
        app,
        ["model", "evaluate", "--jobs", "--on-validation", "--json", "--dataset", str(history)],
        env={"CONTROLTOWER_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["scored_on"] == "validation"
    assert "scored_on" not in file_report
    assert 0 < report["test_runs_with_jobs"] < file_report["test_runs_with_jobs"]
