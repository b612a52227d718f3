"""A run as prediction sees it, and the order in which a repository's runs were requested.

``HistoryRun`` keeps only what features, targets and the evaluation protocol
need, with timestamps as POSIX seconds so that featurizing a large history
stays cheap. ``request_order`` implements the protocol's ordering: by
``created_at``, else ``run_number``, else ``run_id``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import groupby

from controltower.domain import RunFact, is_passed, outcome

# Runs longer than this are recording errors, left out of duration targets and history.
MAX_DURATION_S = 24 * 3600.0
# A completion with no known time is taken as known just after the run was requested.
UNKNOWN_COMPLETION_S = 1e-6


@dataclass(frozen=True, slots=True)
class HistoryRun:
    """One run attempt: its trigger, change, outcome and timing (POSIX seconds, UTC)."""

    repository: str
    run_id: str
    workflow: str = "default"
    attempt: int = 1
    run_number: int | None = None
    event: str | None = None
    branch: str | None = None
    actor: str | None = None
    head_sha: str | None = None
    pull_request: int | None = None
    status: str = "completed"
    conclusion: str | None = None
    created: float | None = None
    started: float | None = None
    completed: float | None = None
    duration_s: float | None = None
    files_changed: int | None = None
    lines_added: int | None = None
    lines_deleted: int | None = None
    commits: int | None = None

    @property
    def failed(self) -> bool | None:
        """True failed, False passed, None neither (cancelled, skipped, not completed)."""
        return outcome(self.conclusion) if self.status == "completed" else None

    @property
    def success_duration(self) -> float | None:
        """Wall-clock seconds of a successful run of at most 24 hours, else None."""
        if self.status != "completed" or not is_passed(self.conclusion):
            return None
        d = self.duration_s
        return d if d is not None and 0 <= d <= MAX_DURATION_S else None


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def from_fact(fact: RunFact) -> HistoryRun:
    """The ``HistoryRun`` of a parsed or stored run."""
    return HistoryRun(
        repository=fact.repository,
        run_id=fact.run_id,
        workflow=fact.workflow,
        attempt=fact.attempt,
        run_number=fact.run_number,
        event=fact.event,
        branch=fact.branch,
        actor=fact.actor,
        head_sha=fact.head_sha,
        pull_request=fact.pull_request,
        status=fact.status,
        conclusion=fact.conclusion,
        created=_epoch(fact.created_at),
        started=_epoch(fact.started_at),
        completed=_epoch(fact.completed_at),
        duration_s=fact.duration_s,
        files_changed=fact.files_changed,
        lines_added=fact.lines_added,
        lines_deleted=fact.lines_deleted,
        commits=fact.commits,
    )


def as_of(runs: Iterable[HistoryRun], at: float) -> list[HistoryRun]:
    """The runs as they stood at ``at`` (POSIX seconds): those requested by then, each one
    that ended later as still going on (queued if it had not started), with no outcome or
    duration. Runs with no request time are left out: when they ran is not known."""
    return [_then(run, at) for run in runs if run.created is not None and run.created <= at]


def _then(run: HistoryRun, at: float) -> HistoryRun:
    """``run`` as it stood at ``at``, after its request."""
    if run.status != "completed" or (run.completed is not None and run.completed <= at):
        return run
    started = run.started is not None and run.started <= at
    return replace(
        run,
        status="in_progress" if started else "queued",
        conclusion=None,
        started=run.started if started else None,
        completed=None,
        duration_s=None,
    )


def _id_key(run_id: str) -> tuple[int, int | str]:
    return (0, int(run_id)) if run_id.isdecimal() else (1, run_id)  # "²" is a digit, no number


RequestKey = tuple[float, int, tuple[int, int | str], int]


def request_key(run: HistoryRun) -> RequestKey:
    """The place of a run with a ``created`` time in its repository's request order."""
    created = run.created if run.created is not None else -math.inf
    return (created, run.run_number or 0, _id_key(run.run_id), run.attempt)


def _ordered_repository(runs: list[HistoryRun]) -> list[HistoryRun]:
    if all(r.created is not None for r in runs):
        return sorted(runs, key=request_key)
    if all(r.run_number is not None for r in runs):
        return sorted(runs, key=lambda r: (r.run_number, _id_key(r.run_id), r.attempt))
    return sorted(runs, key=lambda r: (_id_key(r.run_id), r.attempt))


def request_order(runs: Iterable[HistoryRun]) -> list[HistoryRun]:
    """Runs grouped by repository (by name), each repository's in the order requested."""
    by_repo = sorted(runs, key=lambda r: r.repository)
    ordered: list[HistoryRun] = []
    for _, group in groupby(by_repo, key=lambda r: r.repository):
        ordered.extend(_ordered_repository(list(group)))
    return ordered


def request_times(runs: Sequence[HistoryRun]) -> list[float]:
    """When each run of one repository (in request order) was requested, never decreasing.

    A run without ``created_at`` is placed just after the one before it.
    """
    times: list[float] = []
    last = -math.inf
    for run in runs:
        t = run.created if run.created is not None else last + UNKNOWN_COMPLETION_S
        last = max(t, last) if math.isfinite(last) else t
        times.append(last if math.isfinite(last) else 0.0)
    return times


def known_at(run: HistoryRun, requested: float) -> float:
    """When the run's outcome and duration became known: never, for a run not completed."""
    if run.status != "completed":
        return math.inf
    if run.completed is not None:
        return max(run.completed, requested + UNKNOWN_COMPLETION_S)
    base = run.started if run.started is not None else run.created
    if base is not None and run.duration_s is not None:
        return max(base + run.duration_s, requested + UNKNOWN_COMPLETION_S)
    return requested + UNKNOWN_COMPLETION_S
