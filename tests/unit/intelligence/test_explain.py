"""Risk factors: the strongest contributions, phrased from the feature's value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controltower.intelligence.explain import PHRASES, phrase, risk_factors
from controltower.intelligence.features import FEATURES, INDEX
from controltower.intelligence.jobs import JOB_INPUTS
from controltower.intelligence.models import FailureModel
from controltower.intelligence.predictors import Labelled


@pytest.mark.parametrize(
    ("feature", "value", "words"),
    [
        ("wb_fails_last5", 3.0, "failed 3 of the last 5 runs"),
        ("lines_changed", 1200.0, "large change: 1,200 lines"),
        ("lines_changed", 12.0, "small change: 12 lines"),
        ("sha_prev_failed", 1.0, "this commit already failed once"),
        ("files_changed", math.nan, "the files changed are not known"),
        ("wb_fail_rate", math.nan, "no earlier run of this workflow on this branch"),
        ("dur_wb_prev", math.nan, "no earlier successful run on this branch"),
        ("dur_spread20", math.nan, "fewer than 5 earlier successful runs of this workflow"),
        ("base_prev_failed", math.nan, "no earlier run to compare with"),
        ("job_blame", 0.75, "this job failed in 75% of the workflow's recent failed runs"),
        ("job_fail_streak", 0.0, "this job's last run did not fail"),
        ("job_fail_streak", 2.0, "this job failed 2 times in a row"),
        ("job_fail_streak", 1.0, "this job failed 1 time in a row"),
        ("wb_fail_streak", 1.0, "failed 1 time in a row on this branch"),
        ("actor_runs", 1.0, "1 earlier run by this author"),
        ("actor_fail_rate", math.nan, "the author is not known"),
        ("in_flight", 1.0, "1 other run in progress"),
        ("commits", 1.0, "1 commit"),
        ("job_log_median5", math.log(90.0), "this job usually takes 1.5 min"),
        ("dur_wb_prev", 1071.0, "the last successful run on this branch took 17.9 min"),
        ("dur_prev", 42.0, "the workflow's last successful run took 42 s"),
        ("hours_since_request", 30.0, "30.0 hours since the previous run was requested"),
        ("hours_since_request", 10926.5, "455.3 days since the previous run was requested"),
        ("dur_spread20", 0.25, "its recent durations vary by 25% of their median"),
    ],
)
def test_phrases_say_what_the_value_means(feature: str, value: float, words: str) -> None:
    """Each feature's value reads as a short phrase."""
    assert phrase(feature, value) == words


def test_every_input_of_either_model_has_its_own_words() -> None:
    """No feature falls back to its bare name."""
    assert [name for name in JOB_INPUTS if name not in PHRASES] == []


def test_every_input_says_what_its_missing_value_means() -> None:
    """A missing value reads as the history that is missing, never as the feature's name."""
    fallback = [n for n in JOB_INPUTS if phrase(n, math.nan) == f"{n.replace('_', ' ')} not known"]
    assert fallback == []


def test_the_strongest_pushes_come_first_and_weak_ones_are_left_out() -> None:
    """Ordered by absolute effect; effects below the minimum are dropped."""
    row = np.zeros(len(FEATURES))
    row[INDEX["wb_fails_last5"]], row[INDEX["lines_changed"]] = 3.0, 1200.0
    row[INDEX["wb_runs"]] = 20.0
    contributions = np.zeros(len(FEATURES) + 1)
    contributions[INDEX["wb_fails_last5"]] = 0.4
    contributions[INDEX["lines_changed"]] = 0.9
    contributions[INDEX["hour"]] = 0.01
    factors = risk_factors(row, contributions)
    assert [f.phrase for f in factors] == [
        "large change: 1,200 lines",
        "failed 3 of the last 5 runs",
    ]


def test_a_factor_is_told_with_the_way_it_pushed() -> None:
    """Positive contributions raise the risk, negative ones lower it."""
    row = np.zeros(len(FEATURES))
    row[INDEX["wb_fails_last5"]], row[INDEX["wb_pass_streak"]] = 3.0, 12.0
    row[INDEX["wb_runs"]] = 20.0
    contributions = np.zeros(len(FEATURES) + 1)
    contributions[INDEX["wb_fails_last5"]], contributions[INDEX["wb_pass_streak"]] = 0.6, -0.2
    assert [f.told for f in risk_factors(row, contributions)] == [
        "failed 3 of the last 5 runs (raises the risk)",
        "passed 12 times in a row on this branch (lowers the risk)",
    ]


def test_a_job_row_is_explained_by_the_job_models_inputs() -> None:
    """With ``names``, values and pushes are read by position in those inputs."""
    row = np.zeros(len(JOB_INPUTS))
    at = JOB_INPUTS.index("job_fails_last5")
    row[at], row[INDEX["wb_fail_streak"]] = 4.0, 2.0
    row[JOB_INPUTS.index("job_runs")], row[INDEX["wb_runs"]] = 20.0, 20.0
    contributions = np.zeros(len(JOB_INPUTS) + 1)
    contributions[at], contributions[INDEX["wb_fail_streak"]] = 0.7, -0.3
    factors = risk_factors(row, contributions, names=JOB_INPUTS)
    assert [(f.feature, f.phrase) for f in factors] == [
        ("job_fails_last5", "this job failed 4 of its last 5 runs"),
        ("wb_fail_streak", "failed 2 times in a row on this branch"),
    ]


def test_a_trained_model_explains_with_its_contributions() -> None:
    """The model's ``pred_contrib`` gives one effect per feature plus the expected value."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(400, len(FEATURES)))
    targets = (rows[:, INDEX["wb_fails_last5"]] > 0.5).astype(float)
    model = FailureModel(rounds=20)
    model.fit(Labelled(rows[:300], targets[:300]), Labelled(rows[300:], targets[300:]))
    contributions = model.contributions(rows[:1])
    assert contributions.shape == (1, len(FEATURES) + 1)
    assert risk_factors(rows[0], contributions[0])[0].feature == "wb_fails_last5"


def _pushed(values: dict[str, float], pushes: dict[str, float]) -> list[str]:
    row = np.zeros(len(FEATURES))
    contributions = np.zeros(len(FEATURES) + 1)
    for name, value in values.items():
        row[INDEX[name]] = value
    for name, push in pushes.items():
        contributions[INDEX[name]] = push
    return [f.told for f in risk_factors(row, contributions)]


def test_no_history_reads_as_no_history_not_as_a_clean_record() -> None:
    """A new branch has a streak of 0 and no run: told as "no earlier run", not "failed 0
    times"; a new author's count of 0 likewise."""
    told = _pushed(
        {"wb_runs": 0.0, "wb_fail_streak": 0.0, "actor_runs": 0.0, "repo_runs": 40.0},
        {"wb_fail_streak": -0.4, "actor_runs": 0.3},
    )
    assert told == [
        "no earlier run of this workflow on this branch (lowers the risk)",
        "no earlier run by this author (raises the risk)",
    ]


def test_an_unknown_author_is_told_as_unknown_not_as_a_newcomer() -> None:
    """No actor given: its inputs are missing, and read as an author not known."""
    told = _pushed({"actor_runs": math.nan, "actor_fail_rate": math.nan}, {"actor_runs": 0.3})
    assert told == ["the author is not known (raises the risk)"]


def test_inputs_telling_the_same_fact_are_told_once_with_their_pushes_summed() -> None:
    """The previous run failed, its streak, the baseline's copy of it: one factor, in the words
    of the strongest, pushing by their sum; missing values saying one thing are one factor."""
    told = _pushed(
        {
            "wb_runs": 8.0,
            "wb_prev_failed": 1.0,
            "wb_fail_streak": 2.0,
            "base_prev_failed": 1.0,
            "actor_runs": math.nan,
            "actor_fail_rate": math.nan,
            "lines_changed": 40.0,
        },
        {
            "wb_prev_failed": 0.3,
            "wb_fail_streak": 0.5,
            "base_prev_failed": 0.2,
            "actor_runs": 0.1,
            "actor_fail_rate": 0.1,
            "lines_changed": -0.15,
        },
    )
    assert told == [
        "failed 2 times in a row on this branch (raises the risk)",
        "the author is not known (raises the risk)",
        "small change: 40 lines (lowers the risk)",
    ]
