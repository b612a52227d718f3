"""Per-job predictions from each job's own history: the jobs a run is expected to run, and how.

A run is expected to run the jobs its workflow ran the last time one of its
runs had completed (by name, in that run's order). For each expected job,
from that job's completed attempts in the same workflow (the latest
``RECENT`` known by the request): duration p50 is the median of its last five
successful durations, p10 and p90 the 10th and 90th percentiles of its recent
successful durations (with at least ``MIN_INTERVAL`` of them); the failure
probability is its recent failure share with one failure and one pass added
(so one outcome is not a certainty); the predicted outcome is its previous
one. ``JobHistory`` holds what had completed by a moment, fed in request
order like ``features.RepositoryHistory``.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from controltower.domain import JobFact, is_failed, is_passed
from controltower.intelligence.records import MAX_DURATION_S, HistoryRun, known_at

RECENT = 20
MIN_INTERVAL = 5


@dataclass(frozen=True, slots=True)
class JobAttempt:
    """One job of one run attempt: its name, conclusion and wall-clock seconds."""

    name: str
    conclusion: str | None
    duration_s: float | None

    @property
    def failed(self) -> bool | None:
        """True failed, False passed, None neither."""
        if is_failed(self.conclusion):
            return True
        return False if is_passed(self.conclusion) else None

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


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _quantile(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    at = q * (len(s) - 1)
    low, high = math.floor(at), math.ceil(at)
    return s[low] + (s[high] - s[low]) * (at - low)


def predict_job(name: str, durations: Sequence[float], outcomes: Sequence[bool]) -> JobPrediction:
    """The prediction for job ``name`` from its recent successful durations and outcomes."""
    p50 = _median(durations[-5:])
    p10 = p90 = None
    if p50 is not None and len(durations) >= MIN_INTERVAL:
        p10 = min(_quantile(durations, 0.1), p50)
        p90 = max(_quantile(durations, 0.9), p50)
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


class JobHistory:
    """The jobs of one repository's runs that had completed by a moment."""

    def __init__(self) -> None:
        self.durations: dict[tuple[str, str], deque[float]] = {}
        self.outcomes: dict[tuple[str, str], deque[bool]] = {}
        self.last_jobs: dict[str, tuple[str, ...]] = {}
        self.pending: list[tuple[float, int, str, tuple[JobAttempt, ...]]] = []
        self._seq = 0

    def take(self, workflow: str, jobs: Sequence[JobAttempt]) -> None:
        """Take in the jobs of one completed run of ``workflow``."""
        if not jobs:
            return
        self.last_jobs[workflow] = tuple(dict.fromkeys(j.name for j in jobs))
        for job in jobs:
            key = (workflow, job.name)
            seconds, failed = job.success_duration, job.failed
            if seconds is not None:
                self.durations.setdefault(key, deque(maxlen=RECENT)).append(seconds)
            if failed is not None:
                self.outcomes.setdefault(key, deque(maxlen=RECENT)).append(failed)

    def predict(self, workflow: str) -> list[JobPrediction]:
        """Predictions for the jobs a run of ``workflow`` is expected to run."""
        return [
            predict_job(
                name,
                list(self.durations.get((workflow, name), ())),
                list(self.outcomes.get((workflow, name), ())),
            )
            for name in self.last_jobs.get(workflow, ())
        ]

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
        item = (known_at(run, requested), self._seq, run.workflow, tuple(jobs))
        heapq.heappush(self.pending, item)
        self._seq += 1
        return predicted


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
