"""A run's timeline and its critical path, from the times its jobs ran. Pure.

GitHub does not report a job's ``needs:`` in its events or its REST answers,
so the chain of dependent jobs that set the run's length is inferred from
timing, the way a dependent job behaves: it is queued only when the last job
it needs has finished, so it becomes ready (``created_at`` where GitHub gives
it, else ``started_at``) within moments of that job's end.

The path is walked backwards from the job that finished last (of jobs
finishing in the same second, the one that started last: a job that depends
on another may finish in the second it was released). At each step the
predecessor is the job that finished latest at or before the current job
became ready, provided the current job became ready within ``slack`` of that
finish; otherwise the current job had no dependency holding it (it started
with the run, or waited for a runner), and the path begins there. Parallel
jobs give a path of one job: the slowest of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

SLACK = timedelta(seconds=60)
CLOCK = timedelta(seconds=1)  # timestamps are whole seconds


@dataclass(frozen=True, slots=True)
class Span:
    """One job (or step) as the timeline needs it."""

    key: str
    name: str
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None

    @property
    def ran(self) -> bool:
        """Whether it ran: both ends known, and not skipped (GitHub times skipped jobs too)."""
        return (
            self.started_at is not None
            and self.completed_at is not None
            and self.conclusion != "skipped"
        )

    @property
    def seconds(self) -> float | None:
        """How long it ran, or ``None``."""
        if self.started_at is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()

    @property
    def ready_at(self) -> datetime | None:
        """When it could have started: queued (``created_at``) or, unknown that, started."""
        return self.created_at or self.started_at


def critical_path(jobs: Sequence[Span], slack: timedelta = SLACK) -> list[str]:
    """The keys of the jobs on the critical path, first to last (empty when none ran)."""
    ran = [job for job in jobs if job.ran]
    if not ran:
        return []
    current = max(ran, key=lambda j: (j.completed_at, _ts(j.started_at)))
    path, seen = [current], {current.key}
    while True:
        ready = current.ready_at
        assert ready is not None  # ran jobs have started_at
        before = [
            j
            for j in ran
            if j.key not in seen
            and j.completed_at is not None
            and j.completed_at <= ready + CLOCK
            and j.completed_at <= _must(current.started_at) + CLOCK
        ]
        if not before:
            break
        previous = max(before, key=lambda j: (j.completed_at, _ts(j.started_at)))
        if ready - _must(previous.completed_at) > slack:
            break
        path.append(previous)
        seen.add(previous.key)
        current = previous
    return [job.key for job in reversed(path)]


def bounds(spans: Sequence[Span]) -> tuple[datetime, datetime] | None:
    """The earliest start and latest end among ``spans``, or ``None`` when none ran."""
    ran = [s for s in spans if s.ran]
    if not ran:
        return None
    return min(_must(s.started_at) for s in ran), max(_must(s.completed_at) for s in ran)


def _must(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment


def _ts(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0
