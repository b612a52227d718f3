"""Per-job predictions from each job's own history, known at the run's request."""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Any

import numpy as np
import pytest

from controltower.intelligence import job_evaluation
from controltower.intelligence.evaluation import evaluate, outcome_predictors
from controltower.intelligence.features import Featurized, featurize
from controltower.intelligence.job_evaluation import evaluate_jobs
from controltower.intelligence.job_model import job_table
from controltower.intelligence.jobs import (
    JOB_FEATURES,
    JobAttempt,
    JobHistory,
    callers,
    predict_job,
    ran_as,
)
from controltower.intelligence.models import FailureModel
from controltower.intelligence.records import HistoryRun, request_order
from tests.support.histories import T0, synthetic_history, synthetic_jobs
from tests.unit.intelligence.test_features import _alter_future


def _run(i: int, created: float, completed: float | None, workflow: str = "ci") -> HistoryRun:
    return HistoryRun(
        repository="o/r",
        run_id=str(i),
        workflow=workflow,
        status="completed" if completed is not None else "in_progress",
        conclusion="success" if completed is not None else None,
        created=created,
        completed=completed,
    )


def test_duration_median_of_five_interval_and_smoothed_failure_share() -> None:
    """p50 is the median of the last five; p10 <= p50 <= p90; one failure in three is (1+1)/5."""
    durations = [100.0, 110.0, 90.0, 300.0, 105.0, 95.0, 100.0]
    residuals = [0.0, 0.1, -0.1, 1.0, 0.05, -0.05, 0.0, 0.02, -0.02, 0.03]
    predicted = predict_job("build", durations, [False, True, False], residuals)
    assert predicted.duration_p50 == 100.0
    assert predicted.duration_p10 is not None
    assert predicted.duration_p90 is not None
    assert predicted.duration_p10 <= 100.0 <= predicted.duration_p90
    assert predicted.duration_p90 > 150.0  # the slow outlier widens the interval
    assert predicted.failure_probability == pytest.approx(2 / 5)
    assert predicted.failure_predicted is False
    assert predicted.duration_previous == 100.0


def test_without_history_nothing_is_predicted_and_few_durations_give_no_interval() -> None:
    """No outcomes: no probability; no residuals: a median but no interval."""
    predicted = predict_job("lint", [30.0, 40.0], [])
    assert predicted.duration_p50 == 35.0
    assert (predicted.duration_p10, predicted.duration_p90) == (None, None)
    assert (predicted.failure_probability, predicted.failure_predicted) == (None, None)


def test_expected_jobs_are_those_of_the_last_run_completed_before_the_request() -> None:
    """A run still running at the request does not count; the one completed before does."""
    history = JobHistory()
    history.request(_run(1, 0.0, 100.0), 0.0, [JobAttempt("build", "success", 90.0)])
    history.request(
        _run(2, 50.0, 500.0),
        50.0,
        [JobAttempt("build", "failure", 10.0), JobAttempt("test", "success", 5.0)],
    )
    early = history.request(_run(3, 200.0, None), 200.0, [])
    assert [(p.name, p.failure_predicted, p.duration_p50) for p in early] == [
        ("build", False, 90.0)
    ]
    late = history.request(_run(4, 600.0, None), 600.0, [])
    assert [(p.name, p.failure_predicted) for p in late] == [("build", True), ("test", False)]


def test_another_workflow_expects_nothing() -> None:
    """Jobs are expected per workflow."""
    history = JobHistory()
    history.request(_run(1, 0.0, 10.0), 0.0, [JobAttempt("build", "success", 9.0)])
    assert history.request(_run(2, 100.0, None, workflow="docs"), 100.0, []) == []


def test_job_features_give_each_expected_jobs_recent_record() -> None:
    """Last outcome, smoothed share, streak, runs, share of failed runs it failed in, position."""
    history = JobHistory()
    ran = [
        [JobAttempt("build", "success", 60.0), JobAttempt("test", "failure", 100.0)],
        [JobAttempt("build", "success", 62.0), JobAttempt("test", "failure", 90.0)],
        [JobAttempt("build", "success", 58.0), JobAttempt("test", "success", 95.0)],
        [JobAttempt("build", "failure", 10.0), JobAttempt("test", "skipped", 0.0)],
    ]
    for i, jobs in enumerate(ran):
        history.request(_run(i, i * 1000.0, i * 1000.0 + 500), i * 1000.0, jobs)
    history.advance(10_000.0)
    features = dict(history.features("ci"))
    named = {
        name: dict(zip(JOB_FEATURES, values, strict=True)) for name, values in features.items()
    }
    build, test = named["build"], named["test"]
    assert build["job_prev_failed"] == 1.0
    assert build["job_fail_share"] == pytest.approx((1 + 1) / (4 + 2))
    assert (build["job_fail_streak"], build["job_runs"], build["job_index"]) == (1.0, 4.0, 0.0)
    assert build["job_blame"] == pytest.approx(1 / 3)  # failed in one of the three failed runs
    assert build["job_log_median5"] == pytest.approx(math.log(60.0))  # median of the three passes
    # a skipped job has no outcome: its last one is the pass before
    assert (test["job_prev_failed"], test["job_fail_streak"], test["job_runs"]) == (0.0, 0.0, 3.0)
    assert test["job_blame"] == pytest.approx(2 / 3)
    assert test["jobs_expected"] == 2.0
    assert history.features("other") == []


def test_job_rows_of_the_past_do_not_change_when_the_future_does() -> None:
    """Shuffled outcomes after a moment leave every earlier job row as it was."""
    runs = request_order(synthetic_history(runs=200, seed=4))
    cutoff = T0 + 100 * 1800
    altered = request_order(_alter_future(runs, cutoff, seed=4))
    tables = [job_table(r, featurize(r), synthetic_jobs(r)) for r in (runs, altered)]
    past = np.array([r.created is not None and r.created < cutoff for r in runs])
    before, after = (t.rows[past[t.run_index]] for t in tables)
    assert len(before) > 100
    np.testing.assert_array_equal(before, after)
    assert not np.array_equal(tables[0].failed, tables[1].failed)


def test_without_a_failed_job_to_learn_from_there_is_no_job_model_and_baselines_serve() -> None:
    """Every job passed: no model is fitted, the report says so and scores the baselines."""
    runs = request_order(synthetic_history(runs=150, seed=6))
    passing = [dataclasses.replace(r, conclusion="success") for r in runs]
    report = evaluate_jobs(passing, synthetic_jobs(passing))
    assert report["model"] is None
    assert report["served"] == {
        "failure_probability": "history_rate",
        "failure_predicted": "previous",
        "duration": "median5_interval",
    }
    assert "model" not in report["outcome"]["pooled"]
    assert report["expected"] > 0


def test_an_expected_job_is_matched_with_the_job_of_its_family_that_ran() -> None:
    """A caller and the jobs of the reusable workflow it called are one job family."""
    assert callers("CI / Test / unit") == ["CI / Test", "CI"]
    assert callers("build") == []
    assert ran_as("build", {"build": 1, "build / x": 2}) == 1
    assert ran_as("Deploy", {"build": 1, "Deploy / deploy": 2}) == 2
    assert ran_as("Deploy / deploy", {"build": 1, "Deploy": 2}) == 2
    assert ran_as("CI / Test / unit", {"CI": 3}) == 3
    assert ran_as("CI", {"CI / lint": 1, "CI / test": 2}) is None  # which one ran as it?
    assert ran_as("Deploy / deploy", {"Deploy / push": 1, "Deployment": 2}) is None
    assert ran_as("Deploy", {"Deployment / deploy": 1}) is None


def test_a_caller_skipped_last_time_is_expected_as_the_jobs_it_called_with_their_history() -> None:
    """Last run listed "Deploy" alone: the run is expected to run "Deploy / deploy" as before."""
    history = JobHistory()
    ran = [
        [JobAttempt("Build", "success", 60.0), JobAttempt("Deploy / deploy", "success", 30.0)],
        [JobAttempt("Build", "success", 62.0), JobAttempt("Deploy / deploy", "failure", 40.0)],
        [JobAttempt("Build", "success", 58.0), JobAttempt("Deploy", "skipped", None)],
    ]
    for i, jobs in enumerate(ran):
        history.request(_run(i, i * 1000.0, i * 1000.0 + 500), i * 1000.0, jobs)
    history.advance(10_000.0)
    assert history.expected("ci") == ("Build", "Deploy / deploy")
    deploy = history.predict("ci")[1]
    assert (deploy.name, deploy.duration_p50, deploy.failure_predicted) == (
        "Deploy / deploy",
        30.0,
        True,
    )
    named = {n: dict(zip(JOB_FEATURES, v, strict=True)) for n, v in history.features("ci")}
    assert list(named) == ["Build", "Deploy / deploy"]
    assert named["Deploy / deploy"]["job_runs"] == 2.0
    assert named["Deploy / deploy"]["job_log_median5"] == pytest.approx(
        math.log(30.0)
    )  # its one pass
    # a caller whose called jobs never ran is expected as it was listed
    other = JobHistory()
    other.request(_run(1, 0.0, 10.0), 0.0, [JobAttempt("Deploy", "skipped", None)])
    other.advance(100.0)
    assert other.expected("ci") == ("Deploy",)


def _deploying(
    jobs: dict[tuple[str, str, int], tuple[JobAttempt, ...]],
) -> dict[tuple[str, str, int], tuple[JobAttempt, ...]]:
    """``test`` as a reusable workflow's job: "Deploy / deploy", or "Deploy" when skipped."""
    return {
        key: tuple(
            dataclasses.replace(
                j, name="Deploy" if j.conclusion == "skipped" else "Deploy / deploy"
            )
            if j.name == "test"
            else j
            for j in attempts
        )
        for key, attempts in jobs.items()
    }


def test_the_job_table_scores_a_skipped_caller_by_the_job_it_called() -> None:
    """Each expected "Deploy / deploy" is scored against its family's job, whatever its name;
    the rows are those of the same jobs named as they were before."""
    runs = request_order(synthetic_history(runs=200, seed=4))
    plain = job_table(runs, featurize(runs), synthetic_jobs(runs))
    family = job_table(runs, featurize(runs), _deploying(synthetic_jobs(runs)))
    assert any(j is not None and j.name == "Deploy" for j in family.ran)
    assert len(family.ran) == len(plain.ran)
    np.testing.assert_array_equal(family.rows, plain.rows)
    np.testing.assert_array_equal(family.failed, plain.failed)
    called = [p.name for p in family.predictions if p.name.startswith("Deploy")]
    assert set(called) == {"Deploy / deploy"}


def test_job_rows_with_callers_of_the_past_do_not_change_when_the_future_does() -> None:
    """Family names do not let a job row read what happened after its request."""
    runs = request_order(synthetic_history(runs=200, seed=4))
    cutoff = T0 + 100 * 1800
    altered = request_order(_alter_future(runs, cutoff, seed=4))
    tables = [job_table(r, featurize(r), _deploying(synthetic_jobs(r))) for r in (runs, altered)]
    past = np.array([r.created is not None and r.created < cutoff for r in runs])
    before, after = (t.rows[past[t.run_index]] for t in tables)
    assert len(before) > 100
    np.testing.assert_array_equal(before, after)


def test_the_evaluated_jobs_are_held_to_their_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """``model evaluate --jobs`` scores the job model's figures held to the run model's: with a
    run model that gives every run no chance of failing, no job is predicted to fail either."""
    runs = request_order(synthetic_history(runs=300, seed=6))
    jobs = synthetic_jobs(runs)
    free = evaluate_jobs(runs, jobs)["outcome"]["pooled"]["model"]
    assert free["recall"] > 0

    def sure_to_pass(
        rows: np.ndarray, parts: object, seed: int, fitted: object
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(len(rows)), np.zeros(len(rows), dtype=bool)

    monkeypatch.setattr(job_evaluation, "_run_model_says", sure_to_pass)
    held = evaluate_jobs(runs, jobs)["outcome"]["pooled"]["model"]
    assert held["recall"] == 0.0
    assert held["brier"] != free["brier"]


def test_the_job_report_holds_jobs_to_a_run_model_lent_to_it_without_fitting_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``model train`` lends the run model its run evaluation fitted: the job report is the one
    it would give fitting its own on the same split, and no run model is fitted for it."""
    runs = request_order(synthetic_history(runs=300, seed=6))
    jobs = synthetic_jobs(runs)
    data = Featurized.of(runs)
    own = evaluate_jobs(data, jobs, seed=3)
    lent = FailureModel(seed=3)
    evaluate(data, seed=3, outcome=partial(outcome_predictors, model=lent))
    fits: list[int] = []
    fit = FailureModel.fit

    def counted(model: FailureModel, *args: Any) -> None:
        if type(model) is FailureModel:
            fits.append(1)
        fit(model, *args)

    monkeypatch.setattr(FailureModel, "fit", counted)
    assert evaluate_jobs(data, jobs, seed=3, run_model=lent) == own
    assert fits == []
    evaluate_jobs(data, jobs, seed=3)
    assert fits == [1]
