"""Features of a run known when it is requested: one implementation for training and serving.

``RepositoryHistory`` is the state of one repository as seen at some moment:
the outcomes and durations of the runs that had completed by then. Runs are
fed in request order; each one's completion is held back until a later run is
requested after the time it became known (``records.known_at``), so a feature
never reads anything that completed after the run it describes was requested.
``featurize`` streams a whole history through it; serving feeds the past and
asks for the features of one new run.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from controltower.intelligence.intervals import conformal_bounds, log_residual
from controltower.intelligence.records import HistoryRun, known_at, request_order, request_times

NAN = math.nan
RECENT = 20
EVENTS = {"push": 0.0, "pull_request": 1.0, "schedule": 2.0, "workflow_dispatch": 3.0}
DEFAULT_BRANCHES = frozenset({"main", "master", "develop", "trunk"})

FEATURES = (
    # the trigger
    "event",
    "hour",
    "weekday",
    "default_branch",
    "pull_request",
    # the change
    "files_changed",
    "lines_changed",
    "commits",
    # same workflow and branch
    "wb_prev_failed",
    "wb_fail_streak",
    "wb_pass_streak",
    "wb_fails_last5",
    "wb_fail_rate",
    "wb_runs",
    "wb_hours_since",
    # same workflow, any branch
    "wf_fails_last5",
    "wf_fail_rate",
    # the repository
    "repo_prev_failed",
    "repo_fails_last5",
    "repo_fail_rate",
    "repo_fail_rate_all",
    "repo_runs",
    "hours_since_request",
    "in_flight",
    # who and where
    "actor_fail_rate",
    "actor_runs",
    "branch_fail_rate",
    "branch_runs",
    "sha_prev_failed",
    # the outcome baseline's input: the workflow and branch, else the repository
    "base_prev_failed",
    # durations of successful runs of the same workflow
    "dur_prev",
    "dur_median5",
    "dur_median20",
    "dur_spread20",
    "dur_wb_prev",
    # the duration baselines' inputs, falling back to the repository
    "base_dur_prev",
    "base_dur_median5",
)
# Columns a row carries after the models' inputs: how the workflow's recent successful runs
# compared with the median of five before each, as the conformal 10% and 90% bounds of those
# log-ratios (``intervals``). They place the duration interval; no tree reads them, so models
# saved before they existed read the same inputs.
INTERVAL = ("dur_res_low", "dur_res_high")
# The median of the last five successful runs of the same workflow and trigger event (a push
# may run jobs a pull request skips, or wait for a deployment's approval). Only the duration
# model reads it, as a log-ratio (``duration.DurationModel``), so the failure model and
# duration models saved before it existed read the same inputs.
BY_EVENT = ("dur_event_median5",)
COLUMNS = (*FEATURES, *INTERVAL, *BY_EVENT)
INDEX = {name: i for i, name in enumerate(COLUMNS)}
CATEGORICAL = ("event",)

Matrix = npt.NDArray[np.float64]
K = TypeVar("K")


@dataclass(slots=True)
class Record:
    """Outcomes of one key (a workflow, a branch, an actor…), newest last."""

    recent: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT))
    streak: int = 0  # positive: passes in a row; negative: failures in a row
    runs: int = 0
    failures: int = 0
    last_known: float = NAN

    def add(self, failed: bool, when: float) -> None:
        """Count one more completed run."""
        self.recent.append(int(failed))
        self.runs += 1
        self.failures += int(failed)
        if failed:
            self.streak = self.streak - 1 if self.streak < 0 else -1
        else:
            self.streak = self.streak + 1 if self.streak > 0 else 1
        self.last_known = when

    def fails_last(self, n: int) -> float:
        """Failures among the last ``n`` completed runs (NaN with no runs)."""
        if not self.recent:
            return NAN
        return float(sum(list(self.recent)[-n:]))

    def rate(self) -> float:
        """Failure share of the recent runs (NaN with no runs)."""
        return sum(self.recent) / len(self.recent) if self.recent else NAN

    def prev_failed(self) -> float:
        """1.0 if the last completed run failed, 0.0 if it passed, NaN with none."""
        return float(self.recent[-1]) if self.recent else NAN

    def copy(self) -> Record:
        """A record that counts on from this one's counts without changing them."""
        return Record(
            deque(self.recent, maxlen=self.recent.maxlen),
            self.streak,
            self.runs,
            self.failures,
            self.last_known,
        )


def _median(values: Sequence[float]) -> float:
    if not values:
        return NAN
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


class RepositoryHistory:
    """What had completed in one repository by a given moment, and the features it gives."""

    def __init__(self) -> None:
        self.repo = Record()
        self.by_workflow_branch: dict[tuple[str, str | None], Record] = {}
        self.by_workflow: dict[str, Record] = {}
        self.by_actor: dict[str | None, Record] = {}
        self.by_branch: dict[str | None, Record] = {}
        self.by_sha: dict[str, int] = {}
        self.durations: dict[str, deque[float]] = {}
        self.residuals: dict[str, deque[float]] = {}
        self.wb_duration: dict[tuple[str, str | None], float] = {}
        self.repo_durations: deque[float] = deque(maxlen=5)
        self.event_durations: dict[tuple[str, str | None], deque[float]] = {}
        self.pending: list[tuple[float, int, HistoryRun]] = []
        self.last_request = NAN
        self.requests = 0

    def request(self, run: HistoryRun, requested: float) -> list[float]:
        """The features of ``run`` requested at ``requested``; then wait for its completion."""
        self.advance(requested)
        row = self.features(run, requested)
        self.wait_for(run, requested)
        self.last_request = requested
        return row

    def peek(self, run: HistoryRun, requested: float) -> list[float]:
        """The row ``request`` would give ``run`` at ``requested``, leaving this history as it
        is: the runs completed by then are taken in by a copy of only what the row reads (the
        run's own workflow, branch, trigger, author and commit, and the repository's)."""
        view = RepositoryHistory()
        view.repo = self.repo.copy()
        view.repo_durations = deque(self.repo_durations, maxlen=self.repo_durations.maxlen)
        view.pending, view.last_request = list(self.pending), self.last_request
        wb = (run.workflow, run.branch)
        _copy_record(self.by_workflow_branch, wb, view.by_workflow_branch)
        _copy_record(self.by_workflow, run.workflow, view.by_workflow)
        _copy_record(self.by_actor, run.actor, view.by_actor)
        _copy_record(self.by_branch, run.branch, view.by_branch)
        _copy_queue(self.durations, run.workflow, view.durations)
        _copy_queue(self.residuals, run.workflow, view.residuals)
        _copy_queue(self.event_durations, (run.workflow, run.event), view.event_durations)
        if wb in self.wb_duration:
            view.wb_duration[wb] = self.wb_duration[wb]
        if run.head_sha and run.head_sha in self.by_sha:
            view.by_sha[run.head_sha] = self.by_sha[run.head_sha]
        view.advance(requested)
        return view.features(run, requested)

    def wait_for(self, run: HistoryRun, requested: float) -> int:
        """Hold back ``run``'s completion until it is known; return its place in the queue."""
        heapq.heappush(self.pending, (known_at(run, requested), self.requests, run))
        self.requests += 1
        return self.requests - 1

    def advance(self, now: float) -> None:
        """Take in every pending run that had completed strictly before ``now``."""
        pending = self.pending
        while pending and pending[0][0] < now:
            when, _, run = heapq.heappop(pending)
            self._complete(run, when)

    def _complete(self, run: HistoryRun, when: float) -> None:
        failed = run.failed
        if failed is not None:
            for record in (
                self.repo,
                _get(self.by_workflow_branch, (run.workflow, run.branch)),
                _get(self.by_workflow, run.workflow),
                _get(self.by_actor, run.actor),
                _get(self.by_branch, run.branch),
            ):
                record.add(failed, when)
            if run.head_sha:
                self.by_sha[run.head_sha] = int(failed)
        seconds = run.success_duration
        if seconds is not None:
            queue = self.durations.get(run.workflow)
            if queue is None:
                queue = self.durations[run.workflow] = deque(maxlen=RECENT)
            residual = log_residual(seconds, list(queue)[-5:])
            if residual is not None:
                residuals = self.residuals.get(run.workflow)
                if residuals is None:
                    residuals = self.residuals[run.workflow] = deque(maxlen=RECENT)
                residuals.append(residual)
            queue.append(seconds)
            self.wb_duration[(run.workflow, run.branch)] = seconds
            self.repo_durations.append(seconds)
            by_event = self.event_durations.get((run.workflow, run.event))
            if by_event is None:
                by_event = self.event_durations[(run.workflow, run.event)] = deque(maxlen=5)
            by_event.append(seconds)

    def features(self, run: HistoryRun, requested: float) -> list[float]:
        """The row of ``run`` from what has been taken in (``COLUMNS`` order)."""
        return [
            *_trigger(run),
            *_change(run),
            *self._outcomes(run, requested),
            *self._durations(run),
        ]

    def _outcomes(self, run: HistoryRun, requested: float) -> list[float]:
        wb = self.by_workflow_branch.get((run.workflow, run.branch)) or Record()
        wf = self.by_workflow.get(run.workflow) or Record()
        actor = self.by_actor.get(run.actor) or Record()
        branch = self.by_branch.get(run.branch) or Record()
        repo = self.repo
        sha = self.by_sha.get(run.head_sha) if run.head_sha else None
        prev = wb.prev_failed()
        return [
            prev,
            float(-wb.streak if wb.streak < 0 else 0),
            float(wb.streak if wb.streak > 0 else 0),
            wb.fails_last(5),
            wb.rate(),
            float(wb.runs),
            (requested - wb.last_known) / 3600.0,
            wf.fails_last(5),
            wf.rate(),
            repo.prev_failed(),
            repo.fails_last(5),
            repo.rate(),
            repo.failures / repo.runs if repo.runs else NAN,
            float(repo.runs),
            (requested - self.last_request) / 3600.0,
            float(len(self.pending)),
            actor.rate() if run.actor else NAN,
            float(actor.runs) if run.actor else NAN,
            branch.rate() if run.branch else NAN,
            float(branch.runs) if run.branch else NAN,
            float(sha) if sha is not None else NAN,
            prev if not math.isnan(prev) else repo.prev_failed(),
        ]

    def _durations(self, run: HistoryRun) -> list[float]:
        queue = self.durations.get(run.workflow)
        recent = list(queue) if queue else []
        last5 = recent[-5:]
        median5, median20 = _median(last5), _median(recent)
        spread = NAN
        if len(recent) >= 5 and median20 > 0:
            s = sorted(recent)
            spread = (s[int(0.9 * (len(s) - 1))] - s[int(0.1 * (len(s) - 1))]) / median20
        prev = recent[-1] if recent else NAN
        repo_prev = self.repo_durations[-1] if self.repo_durations else NAN
        bounds = conformal_bounds(self.residuals.get(run.workflow, ()))
        return [
            prev,
            median5,
            median20,
            spread,
            self.wb_duration.get((run.workflow, run.branch), NAN),
            prev if recent else repo_prev,
            median5 if recent else _median(self.repo_durations),
            *(bounds or (NAN, NAN)),
            _median(self.event_durations.get((run.workflow, run.event), ())),
        ]


def _copy_record(table: dict[K, Record], key: K, into: dict[K, Record]) -> None:
    if key in table:
        into[key] = table[key].copy()


def _copy_queue(table: dict[K, deque[float]], key: K, into: dict[K, deque[float]]) -> None:
    if key in table:
        into[key] = deque(table[key], maxlen=table[key].maxlen)


def _get(table: dict[K, Record], key: K) -> Record:
    record = table.get(key)
    if record is None:
        record = table[key] = Record()
    return record


def _trigger(run: HistoryRun) -> list[float]:
    if run.created is not None:
        at = datetime.fromtimestamp(run.created, tz=UTC)
        hour, weekday = float(at.hour), float(at.weekday())
    else:
        hour = weekday = NAN
    return [
        EVENTS.get(run.event or "", 4.0) if run.event else NAN,
        hour,
        weekday,
        float(run.branch in DEFAULT_BRANCHES) if run.branch else NAN,
        float(run.pull_request is not None or run.event == "pull_request"),
    ]


def _change(run: HistoryRun) -> list[float]:
    lines = NAN
    if run.lines_added is not None or run.lines_deleted is not None:
        lines = float((run.lines_added or 0) + (run.lines_deleted or 0))
    return [
        float(run.files_changed) if run.files_changed is not None else NAN,
        lines,
        float(run.commits) if run.commits is not None else NAN,
    ]


def inputs(rows: Matrix) -> Matrix:
    """The models' inputs of feature rows (``FEATURES``, without the columns after them)."""
    return rows[:, : len(FEATURES)]


def featurize(runs: Sequence[HistoryRun]) -> Matrix:
    """Feature rows of ``runs`` (in ``records.request_order``), each from its own past only."""
    rows: list[list[float]] = []
    for _, group in groupby(runs, key=lambda r: r.repository):
        ordered = list(group)
        history = RepositoryHistory()
        for run, requested in zip(ordered, request_times(ordered), strict=True):
            rows.append(history.request(run, requested))
    if not rows:
        return np.empty((0, len(COLUMNS)))
    return np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Featurized:
    """A history in request order with its feature rows, built once for every use of them.

    ``model train`` fits the models, evaluates them and evaluates the job
    model on the same history; each would otherwise order and featurize it
    again (on travis-builds-2021 a few seconds each time).
    """

    runs: list[HistoryRun]
    rows: Matrix

    @classmethod
    def of(cls, history: Iterable[HistoryRun]) -> Featurized:
        runs = request_order(history)
        return cls(runs, featurize(runs))


def featurized(history: Iterable[HistoryRun] | Featurized) -> Featurized:
    """``history`` ordered and featurized, unless it already is."""
    return history if isinstance(history, Featurized) else Featurized.of(history)
