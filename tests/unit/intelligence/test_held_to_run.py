"""A job's failure figures held to its run's: a run fails when one of its jobs does."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from controltower.intelligence.jobs import RunBound, held_to_run


@pytest.mark.parametrize(
    ("job", "run", "held"),
    [
        ((0.30, True), RunBound(0.12, False), (0.12, False)),  # above its run: brought down
        ((0.05, False), RunBound(0.12, True), (0.05, False)),  # below: as it was
        ((0.40, True), RunBound(0.60, True), (0.40, True)),  # a failing run, a failing job
        ((0.30, True), RunBound(None, False), (0.30, False)),  # the run model gave no probability
        ((0.30, True), RunBound(0.12, None), (0.12, True)),  # nor a decision
        ((0.30, True), None, (0.30, True)),  # no run model at all
    ],
)
def test_a_job_is_at_most_as_likely_to_fail_as_its_run(
    job: tuple[float, bool], run: RunBound | None, held: tuple[float, bool]
) -> None:
    """Its probability at most the run's, and predicted to fail only where the run is."""
    assert held_to_run(*job, run) == held


@dataclass(frozen=True)
class _Figures:
    failure_probability: float | None
    failure_predicted: bool | None
    failure_predictor: str
    probability_predictor: str | None


@pytest.mark.parametrize(
    ("run", "bound"),
    [
        (_Figures(0.2, True, "model", "model"), RunBound(0.2, True)),
        (_Figures(0.2, False, "previous", "model"), RunBound(0.2, False)),  # a baseline decided
        (_Figures(1.0, True, "previous", "previous"), RunBound(None, True)),
        (_Figures(0.2, False, "model", None), RunBound(0.2, False)),  # stored before the name
        (_Figures(0.0, False, "previous", None), RunBound(None, False)),
        (_Figures(0.1, False, "always_pass", "model"), RunBound(0.1, False)),
        (_Figures(None, None, "previous", None), RunBound(None, None)),  # nothing decided
    ],
)
def test_jobs_are_held_to_the_runs_decision_and_to_the_run_models_probability(
    run: _Figures, bound: RunBound
) -> None:
    """Whatever decided the run holds its jobs' decisions; only the run model's probability
    holds theirs (a baseline's is the previous run's 0 or 1)."""
    assert RunBound.of(run) == bound
