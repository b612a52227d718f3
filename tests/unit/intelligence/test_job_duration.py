"""The per-job duration model: the run model's correction of the job's median of five."""

from __future__ import annotations

import numpy as np
import pytest

from controltower.intelligence.features import INDEX
from controltower.intelligence.job_duration import AT, JobDurationModel
from controltower.intelligence.job_evaluation import evaluate_jobs
from controltower.intelligence.jobs import JOB_DURATION_COLUMNS
from controltower.intelligence.models import Trees
from controltower.intelligence.predictors import Labelled, Matrix
from controltower.intelligence.records import request_order
from tests.support.histories import synthetic_history, synthetic_jobs

SMALL = Trees(rounds=100, leaves=7, min_leaf=10)


def _rows(n: int, seed: int, median: float = 100.0) -> Matrix:
    rng = np.random.default_rng(seed)
    rows = np.full((n, len(JOB_DURATION_COLUMNS)), np.nan)
    rows[:, INDEX["files_changed"]] = rng.integers(0, 2, n)
    rows[:, AT["job_dur_median5"]] = median
    rows[:, AT["job_dur_prev"]] = median
    return rows


def _durations(rows: Matrix, effect: float) -> Labelled:
    noise = np.random.default_rng(int(effect * 10)).normal(0.0, 0.02, len(rows))
    median = rows[:, AT["job_dur_median5"]] + 1.0
    changed = rows[:, INDEX["files_changed"]]
    return Labelled(rows, median * np.exp(effect * changed + noise) - 1.0)


def test_a_correction_that_holds_on_validation_moves_the_jobs_median_of_five() -> None:
    """+50 % for a changed file, in both slices: p50 follows it, around the job's median."""
    model = JobDurationModel(trees=SMALL)
    model.fit(_durations(_rows(600, 1), 0.5), _durations(_rows(300, 2), 0.5))
    rows = _rows(50, 3)
    p50 = model.predict(rows)[:, 1]
    changed = rows[:, INDEX["files_changed"]] == 1.0
    assert 0.8 <= model.shrink <= 1.2
    assert np.allclose(p50[changed], 101.0 * np.exp(0.5) - 1.0, rtol=0.1)
    assert np.allclose(p50[~changed], 100.0, rtol=0.1)


def test_a_correction_shrunk_away_serves_the_median_of_five_even_of_zero_seconds() -> None:
    """Learnt +50 % that the validation slice does not show: p50 is the job's median of five,
    a job of zero seconds included (the ratio is taken with one second added)."""
    model = JobDurationModel(trees=SMALL)
    model.fit(_durations(_rows(600, 1), 0.5), _durations(_rows(300, 2), 0.0))
    assert model.shrink == 0.0
    assert np.allclose(model.predict(_rows(20, 3))[:, 1], 100.0)
    assert np.allclose(model.predict(_rows(20, 3, median=0.0))[:, 1], 0.0)


def test_the_interval_is_the_jobs_conformal_one_where_it_has_one() -> None:
    """With the job's p10 and p90 known they are served (widened to contain p50); without,
    the quantiles widened on the validation slice. Saved and loaded, the same."""
    model = JobDurationModel(trees=SMALL)
    model.fit(_durations(_rows(600, 1), 0.5), _durations(_rows(300, 2), 0.5))
    rows = _rows(40, 3)
    known = rows.copy()
    known[:, AT["job_dur_p10"]], known[:, AT["job_dur_p90"]] = 80.0, 130.0
    with_interval, without = model.predict(known), model.predict(rows)
    np.testing.assert_array_equal(with_interval[:, 1], without[:, 1])
    assert np.allclose(with_interval[:, 0], np.minimum(80.0, with_interval[:, 1]))
    assert np.allclose(with_interval[:, 2], np.maximum(130.0, with_interval[:, 1]))
    assert ((without[:, 0] < without[:, 1]) & (without[:, 1] < without[:, 2])).all()
    assert not np.allclose(without[:, 2], with_interval[:, 2])
    loaded = JobDurationModel.from_dict(model.to_dict())
    np.testing.assert_array_equal(loaded.predict(known), with_interval)


def test_the_job_report_scores_the_duration_model_and_serves_it_only_when_better() -> None:
    """The report scores the model beside the median of five and the previous duration, with
    its margins; it serves when its pooled MdAPE beats both, else the median of five."""
    runs = request_order(synthetic_history(runs=300, seed=3))
    report = evaluate_jobs(runs, synthetic_jobs(runs))
    pooled = report["duration"]["pooled"]
    assert set(pooled) == {"model", "median5_interval", "previous"}
    assert report["duration_model"]["kind"] == "job_duration_model"
    mdape = {name: figures["mdape"] for name, figures in pooled.items()}
    better = mdape["model"] < min(mdape["median5_interval"], mdape["previous"])
    assert report["served"]["duration"] == ("model" if better else "median5_interval")
    margin = report["margins"]["duration"]["pooled"]["mdape"]
    assert margin["difference"] == pytest.approx(mdape["model"] - mdape[margin["against"]])
    repositories = report["duration"]["per_repository"].values()
    assert all("model" in figures for figures in repositories)
