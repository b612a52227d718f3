"""Per-job predictions from each job's own history: the jobs a run is expected to run, and how.

A run is expected to run the jobs its workflow ran the last time one of its
runs had completed (by name, in that run's order). A job that calls a
reusable workflow is one family with the jobs it calls: GitHub names it after
the caller while it is skipped or pending ("Deploy") and ``caller / job``
once the called workflow's job runs ("Deploy / deploy"). A caller the last
run listed alone is expected as the jobs it called the last time they ran
(``JobHistory.expected``), so their history predicts it, and an expected job
is matched with the job of its family that ran (``ran_as``), in evaluation
as on the run page. For each expected job, from that job's completed
attempts in the same workflow (the latest ``RECENT`` known by the request):
duration p50 is the median of its last five successful durations, p10 and
p90 the split-conformal 80% interval around it from the job's recent
log-ratio residuals to the p50 before each of its successful durations, or
its workflow's pooled ones when the job has too few (``intervals``); the
failure probability is its recent failure share with one failure and one pass added
(so one outcome is not a certainty); the predicted outcome is its previous
one. ``JobHistory`` holds what had completed by a moment, fed in request
order like ``features.RepositoryHistory``; it also gives each expected job's
``JOB_FEATURES``, the job model's inputs beside the run's (``job_model``),
from the same bounded state in training and in serving.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from controltower.domain import JobFact, is_passed, outcome
from controltower.intelligence.features import FEATURES, inputs
from controltower.intelligence.intervals import interval, log_residual, median_of_five
from controltower.intelligence.records import MAX_DURATION_S, HistoryRun, known_at

RECENT = 20
POOLED = 200
NAN = float("nan")
# Between a job that calls a reusable workflow and each job of that workflow in their names.
CALLS = " / "
T = TypeVar("T")
JOB_FEATURES = (
    "job_prev_failed",
    "job_fail_share",
    "job_fails_last5",
    "job_fail_streak",
    "job_runs",
    # the share of the failed runs among the workflow's last RECENT that this job failed in
    "job_blame",
    "job_index",
    "jobs_expected",
    "job_log_median5",
)
# The job model's inputs: its run's, then its own.
JOB_INPUTS = (*FEATURES, *JOB_FEATURES)
# The job duration model's rows: the job's row, then what its own history predicts (NaN: none).
JOB_DURATION = ("job_dur_median5", "job_dur_prev", "job_dur_p10", "job_dur_p90")
JOB_DURATION_COLUMNS = (*JOB_INPUTS, *JOB_DURATION)


@dataclass(frozen=True, slots=True)
class JobAttempt:
    """One job of one run attempt: its name, conclusion and wall-clock seconds."""

    name: str
    conclusion: str | None
    duration_s: float | None

    @property
    def failed(self) -> bool | None:
        """True failed, False passed, None neither."""
        return outcome(self.conclusion)

    @property
    def success_duration(self) -> float | None:
        """Seconds of a successful job of at most 24 hours, else None."""
        d = self.duration_s
        ok = is_passed(self.conclusion) and d is not None and 0 <= d <= MAX_DURATION_S
        return d if ok else None


@dataclass(frozen=True, slots=True)
class JobPrediction:
    """What is predicted for one expected job of a run."""

    name: str
    duration_p10: float | None
    duration_p50: float | None
    duration_p90: float | None
    duration_previous: float | None
    failure_probability: float | None
    failure_predicted: bool | None
    history: int
    # what gave the failure figures: ``baselines`` (share and previous outcome) or ``model``
    failure_predictor: str = "baselines"
    # the job model's risk factors, in words (none from the baselines)
    risk_factors: tuple[str, ...] = ()
    # what gave the duration figures: ``median5`` (median of five, conformal interval) or ``model``
    duration_predictor: str = "median5"


class RunFigures(Protocol):
    """A run's failure figures and what gave each (a prediction, or its stored row)."""

    @property
    def failure_probability(self) -> float | None: ...
    @property
    def failure_predicted(self) -> bool | None: ...
    @property
    def failure_predictor(self) -> str: ...
    @property
    def probability_predictor(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class RunBound:
    """What the run a job belongs to is predicted to do: the run model's failure probability
    (None where the model did not give it) and whether the run is predicted to fail (None: no
    decision)."""

    probability: float | None
    failed: bool | None

    @classmethod
    def of(cls, run: RunFigures) -> RunBound:
        """The run's probability where the run model gave it (a probability stored without its
        predictor's name was given by the one that decided), and its decision whatever gave it:
        a run fails when one of its jobs does, so a job told to fail in a run told to pass
        would contradict the page that shows both. A baseline's probability (the previous
        run's 0 or 1) is no chance to hold another to."""
        gave_probability = run.probability_predictor or run.failure_predictor
        return cls(
            run.failure_probability if gave_probability == "model" else None,
            run.failure_predicted,
        )


def held_to_run(probability: float, failed: bool, run: RunBound | None) -> tuple[float, bool]:
    """A job model's figures held to its run's: a run fails when one of its jobs does, so a
    job's chance of failing is at most the run's, and it is predicted to fail only where the
    run is. (Chosen on the validation slices: the job model alone was the over-confident one.)
    """
    if run is None:
        return probability, failed
    if run.probability is not None:
        probability = min(probability, run.probability)
    if run.failed is not None:
        failed = failed and run.failed
    return probability, failed


def predict_job(
    name: str,
    durations: Sequence[float],
    outcomes: Sequence[bool],
    residuals: Sequence[float] = (),
    pooled: Sequence[float] = (),
) -> JobPrediction:
    """The prediction for job ``name`` from its recent durations, outcomes and residuals.

    ``residuals`` are the job's own log-ratio residuals, ``pooled`` those of
    its workflow's jobs (``intervals.interval``).
    """
    p50 = median_of_five(durations)
    bounds = interval(p50, residuals, pooled) if p50 is not None else None
    p10, p90 = bounds if bounds is not None else (None, None)
    probability = (sum(outcomes) + 1) / (len(outcomes) + 2) if outcomes else None
    return JobPrediction(
        name=name,
        duration_p10=p10,
        duration_p50=p50,
        duration_p90=p90,
        duration_previous=durations[-1] if durations else None,
        failure_probability=probability,
        failure_predicted=outcomes[-1] if outcomes else None,
        history=max(len(durations), len(outcomes)),
    )


def callers(name: str) -> list[str]:
    """The names the caller of job ``name`` may be listed under, innermost first.

    "Deploy / deploy" was called by "Deploy"; "CI / Test / unit" by "CI / Test",
    itself called by "CI". A name without `` / `` has none.
    """
    parts = name.split(CALLS)
    return [CALLS.join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def called_by(names: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """For each caller among ``names`` (one run's), the jobs of ``names`` it called, in order."""
    found: dict[str, dict[str, None]] = {}
    for name in names:
        for caller in callers(name):
            found.setdefault(caller, {})[name] = None
    return {caller: tuple(called) for caller, called in found.items()}


def ran_as(name: str, actual: Mapping[str, T]) -> T | None:
    """What ran as expected job ``name`` among ``actual`` (by job name): the job of its family.

    The job of that name; else, for a caller, the one job it called (with
    several called jobs none is taken for it); else, for a called job, its
    caller listed alone (skipped or not started: "Deploy" for "Deploy / deploy").
    """
    if name in actual:
        return actual[name]
    called = [job for ran, job in actual.items() if ran.startswith(name + CALLS)]
    if called:
        return called[0] if len(called) == 1 else None
    return next((actual[c] for c in callers(name) if c in actual), None)


class JobHistory:
    """The jobs of one repository's runs that had completed by a moment."""

    def __init__(self) -> None:
        self.durations: dict[tuple[str, str], deque[float]] = {}
        self.outcomes: dict[tuple[str, str], deque[bool]] = {}
        self.residuals: dict[tuple[str, str], deque[float]] = {}
        self.pooled: dict[str, deque[float]] = {}
        self.last_jobs: dict[str, tuple[str, ...]] = {}
        # per workflow and caller, the jobs it called the last time they ran
        self.called: dict[str, dict[str, tuple[str, ...]]] = {}
        # per workflow, the failed jobs' names of its last RECENT completed runs (empty: passed)
        self.failed_sets: dict[str, deque[frozenset[str]]] = {}
        self.pending: list[tuple[float, int, str, tuple[JobAttempt, ...]]] = []
        self._seq = 0

    def take(self, workflow: str, jobs: Sequence[JobAttempt]) -> None:
        """Take in the jobs of one completed run of ``workflow``."""
        if not jobs:
            return
        names = tuple(dict.fromkeys(j.name for j in jobs))
        self.last_jobs[workflow] = names
        self.called.setdefault(workflow, {}).update(called_by(names))
        failed_names = frozenset(j.name for j in jobs if j.failed)
        self.failed_sets.setdefault(workflow, deque(maxlen=RECENT)).append(failed_names)
        for job in jobs:
            key = (workflow, job.name)
            seconds, failed = job.success_duration, job.failed
            if seconds is not None:
                self._take_duration(workflow, key, seconds)
            if failed is not None:
                self.outcomes.setdefault(key, deque(maxlen=RECENT)).append(failed)

    def _take_duration(self, workflow: str, key: tuple[str, str], seconds: float) -> None:
        before = self.durations.setdefault(key, deque(maxlen=RECENT))
        residual = log_residual(seconds, list(before)[-5:])
        if residual is not None:
            self.residuals.setdefault(key, deque(maxlen=RECENT)).append(residual)
            self.pooled.setdefault(workflow, deque(maxlen=POOLED)).append(residual)
        before.append(seconds)

    def expected(self, workflow: str) -> tuple[str, ...]:
        """The jobs a run of ``workflow`` is expected to run, in order.

        Those of its last completed run, where a caller listed alone (none of
        its called jobs ran then) stands for the jobs it called the last time
        they ran.
        """
        names = self.last_jobs.get(workflow, ())
        called = self.called.get(workflow, {})
        ran = called_by(names)
        out: dict[str, None] = {}
        for name in names:
            for job in (name,) if name in ran else called.get(name, (name,)):
                out[job] = None
        return tuple(out)

    def predict(self, workflow: str) -> list[JobPrediction]:
        """Predictions for the jobs a run of ``workflow`` is expected to run."""
        return [
            predict_job(
                name,
                list(self.durations.get((workflow, name), ())),
                list(self.outcomes.get((workflow, name), ())),
                list(self.residuals.get((workflow, name), ())),
                list(self.pooled.get(workflow, ())),
            )
            for name in self.expected(workflow)
        ]

    def features(self, workflow: str) -> list[tuple[str, list[float]]]:
        """The ``JOB_FEATURES`` of each job a run of ``workflow`` is expected to run."""
        names = self.expected(workflow)
        failed_runs = [s for s in self.failed_sets.get(workflow, ()) if s]
        out = []
        for index, name in enumerate(names):
            outcomes = list(self.outcomes.get((workflow, name), ()))
            streak = 0
            for failed in reversed(outcomes):
                if not failed:
                    break
                streak += 1
            p50 = median_of_five(list(self.durations.get((workflow, name), ())))
            blame = sum(name in s for s in failed_runs) / len(failed_runs) if failed_runs else NAN
            known = bool(outcomes)
            out.append(
                (
                    name,
                    [
                        float(outcomes[-1]) if known else NAN,
                        (sum(outcomes) + 1) / (len(outcomes) + 2) if known else NAN,
                        float(sum(outcomes[-5:])) if known else NAN,
                        float(streak),
                        float(len(outcomes)),
                        blame,
                        float(index),
                        float(len(names)),
                        float(np.log(max(p50, 1.0))) if p50 is not None else NAN,
                    ],
                )
            )
        return out

    def advance(self, now: float) -> None:
        """Take in the jobs of every run that had completed strictly before ``now``."""
        while self.pending and self.pending[0][0] < now:
            _, _, workflow, done = heapq.heappop(self.pending)
            self.take(workflow, done)

    def request(
        self, run: HistoryRun, requested: float, jobs: Sequence[JobAttempt]
    ) -> list[JobPrediction]:
        """Predictions for ``run`` requested at ``requested``; its jobs count once known."""
        self.advance(requested)
        predicted = self.predict(run.workflow)
        self.hold(run, requested, jobs)
        return predicted

    def hold(self, run: HistoryRun, requested: float, jobs: Sequence[JobAttempt]) -> None:
        """Keep the jobs of ``run`` (requested at ``requested``) until its outcome is known."""
        item = (known_at(run, requested), self._seq, run.workflow, tuple(jobs))
        heapq.heappush(self.pending, item)
        self._seq += 1


def job_rows(
    run_row: npt.NDArray[np.float64], expected: Sequence[tuple[str, list[float]]]
) -> npt.NDArray[np.float64]:
    """The job model's rows (``JOB_INPUTS``) of a run's expected jobs (``JobHistory.features``)."""
    head = inputs(run_row.reshape(1, -1))[0]
    out = np.empty((len(expected), len(JOB_INPUTS)), dtype=np.float64)
    for i, (_, values) in enumerate(expected):
        out[i, : len(head)] = head
        out[i, len(head) :] = values
    return out


def duration_rows(
    rows: npt.NDArray[np.float64], predicted: Sequence[JobPrediction]
) -> npt.NDArray[np.float64]:
    """The job duration model's rows (``JOB_DURATION_COLUMNS``): job rows (``job_rows``)
    followed by their jobs' predictions without a model (``JobHistory.predict``)."""
    extra = np.array(
        [[p.duration_p50, p.duration_previous, p.duration_p10, p.duration_p90] for p in predicted],
        dtype=np.float64,
    ).reshape(-1, len(JOB_DURATION))
    return np.hstack([rows, extra])


def job_attempts(jobs: Sequence[JobFact]) -> tuple[JobAttempt, ...]:
    """The ``JobAttempt`` of each parsed or stored job."""
    return tuple(
        JobAttempt(
            j.name,
            j.conclusion,
            (j.completed_at - j.started_at).total_seconds()
            if j.completed_at is not None and j.started_at is not None
            else None,
        )
        for j in jobs
    )
