"""Calibrated duration intervals of jobs and runs: conformal bounds on log-ratio residuals."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from controltower.intelligence.baselines import MedianOfFive
from controltower.intelligence.features import featurize
from controltower.intelligence.intervals import (
    MIN_RESIDUALS,
    conformal_bounds,
    interval,
    log_residual,
)
from controltower.intelligence.jobs import JobAttempt, JobHistory, predict_job
from controltower.intelligence.records import HistoryRun


def _coverage(sigma: float, runs: int, seed: int) -> tuple[float, int]:
    """Share of a log-normal job's durations inside the interval served before each run."""
    rng = random.Random(seed)
    history = JobHistory()
    inside = served = 0
    for _ in range(runs):
        duration = 300.0 * math.exp(rng.gauss(0.0, sigma))
        predicted = history.predict("ci")
        if predicted and predicted[0].duration_p10 is not None:
            low, high = predicted[0].duration_p10, predicted[0].duration_p90
            assert high is not None
            served += 1
            inside += low <= duration <= high
        history.take("ci", [JobAttempt("build", "success", duration)])
    return inside / served, served


@pytest.mark.parametrize("sigma", [0.05, 0.3, 0.8])
def test_a_log_normal_job_is_covered_about_eighty_percent(sigma: float) -> None:
    """Whatever the spread, the served 80% interval covers 75-85% of the next durations."""
    coverage, served = _coverage(sigma, 3000, seed=7)
    assert served > 2900
    assert 0.75 <= coverage <= 0.85


def _run_coverage(sigmas: list[float], seed: int) -> tuple[float, float]:
    """Coverage of a workflow's runs by the median of five's interval: overall, and over the
    last quarter of the runs."""
    rng = random.Random(seed)
    runs = []
    for i, sigma in enumerate(sigmas):
        seconds = 300.0 * math.exp(rng.gauss(0.0, sigma))
        created = 1.7e9 + i * 3600.0
        runs.append(
            HistoryRun(
                repository="o/r",
                run_id=str(i),
                run_number=i,
                workflow="ci",
                branch="main",
                conclusion="success",
                created=created,
                started=created,
                completed=created + seconds,
                duration_s=seconds,
            )
        )
    predicted = MedianOfFive().predict(featurize(runs))
    actual = np.array([r.duration_s for r in runs])
    served = np.isfinite(predicted[:, 0])
    inside = (predicted[:, 0] <= actual) & (actual <= predicted[:, 2])
    last = np.arange(len(runs)) >= 3 * len(runs) // 4
    return float(inside[served].mean()), float(inside[served & last].mean())


@pytest.mark.parametrize("sigma", [0.05, 0.3, 0.8])
def test_a_log_normal_workflow_is_covered_about_eighty_percent(sigma: float) -> None:
    """A run's interval (from the workflow's residuals) covers 75-85% of its durations."""
    coverage, _ = _run_coverage([sigma] * 3000, seed=11)
    assert 0.75 <= coverage <= 0.85


def test_a_runs_interval_follows_a_workflow_that_became_more_variable() -> None:
    """Steady for a while, then four times as variable: the later runs are still covered
    about 80%, because the interval comes from the workflow's recent residuals."""
    _, later = _run_coverage([0.05] * 1500 + [0.2] * 1500, seed=5)
    assert 0.75 <= later <= 0.85


def test_the_interval_widens_with_the_job_spread() -> None:
    """A noisier job gets a wider interval around the same p50."""
    rng = random.Random(3)
    narrow = [rng.gauss(0.0, 0.05) for _ in range(20)]
    wide = [r * 10 for r in narrow]
    low_n, high_n = interval(100.0, narrow, []) or (0.0, 0.0)
    low_w, high_w = interval(100.0, wide, []) or (0.0, 0.0)
    assert high_w - low_w > 5 * (high_n - low_n) > 0


def test_conformal_ranks_need_enough_residuals() -> None:
    """Under the minimum there is no bound; at it the bounds are the extremes."""
    assert conformal_bounds([0.1] * (MIN_RESIDUALS - 1)) is None
    residuals = [float(i) for i in range(MIN_RESIDUALS)]
    assert conformal_bounds(residuals) == (0.0, float(MIN_RESIDUALS - 1))
    twenty = [float(i) for i in range(20)]
    assert conformal_bounds(twenty) == (1.0, 18.0)  # ranks 2 and 19 of 20


def test_a_job_with_little_history_falls_back_to_its_workflow_then_to_none() -> None:
    """Too few own residuals: the workflow's pooled ones; too few of those: no interval."""
    pooled = [-0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    fallback = predict_job("new", [100.0, 120.0], [], residuals=[0.05], pooled=pooled)
    assert fallback.duration_p50 == 110.0
    assert fallback.duration_p10 == pytest.approx(111.0 * math.exp(-0.2) - 1.0)
    assert fallback.duration_p90 == pytest.approx(111.0 * math.exp(0.7) - 1.0)
    bare = predict_job("new", [100.0, 120.0], [], residuals=[0.05], pooled=[0.1])
    assert (bare.duration_p50, bare.duration_p10, bare.duration_p90) == (110.0, None, None)


def test_the_interval_always_contains_p50() -> None:
    """Residuals all above zero still give p10 at p50, never above it."""
    low, high = interval(50.0, [0.1 * i for i in range(1, 11)], []) or (0.0, 0.0)
    assert low == pytest.approx(50.0)
    assert high > 50.0


def test_a_zero_second_job_gets_a_defined_residual_and_non_negative_bounds() -> None:
    """One second is added before the log, so zero durations neither fail nor go negative."""
    assert log_residual(0.0, [0.0, 0.0]) == 0.0
    low, high = interval(0.0, [-1.0] * 5 + [1.0] * 5, []) or (-1.0, -1.0)
    assert low == 0.0
    assert high == pytest.approx(math.e - 1.0)


def test_inputs_are_not_mutated() -> None:
    """Residuals, pooled residuals and durations come back as they went in."""
    own = [0.3, -0.1, 0.2, 0.0, -0.3, 0.1, 0.4, -0.2, 0.05, 0.15]
    pooled = list(reversed(own))
    durations = [100.0, 90.0, 110.0]
    copies = (list(own), list(pooled), list(durations))
    predict_job("build", durations, [], residuals=own, pooled=pooled)
    conformal_bounds(own)
    assert (own, pooled, durations) == copies


def test_residuals_are_against_the_p50_before_each_duration() -> None:
    """The history records log((d + 1) / (p50 + 1)) with p50 from the durations before d."""
    history = JobHistory()
    for seconds in (99.0, 99.0, 199.0):
        history.take("ci", [JobAttempt("build", "success", seconds)])
    assert list(history.residuals[("ci", "build")]) == pytest.approx([0.0, math.log(2.0)])
    assert list(history.pooled["ci"]) == pytest.approx([0.0, math.log(2.0)])
