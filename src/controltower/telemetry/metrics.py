"""CI metrics over a time window, and their change against the previous window. Pure.

What each figure counts:

- ``runs``: distinct workflow runs created in the window; ``attempts``: their
  attempts (a re-run is another attempt of the same run); ``reruns``:
  attempts beyond the first, counted from the latest attempt's number, so
  that a run whose earlier attempts were never stored (GitHub's API lists
  only the latest) still counts its re-runs.
- ``success_rate`` and ``failure_rate``: shares of runs whose *latest*
  attempt passed (``success``) or failed (``failure``, ``timed_out``,
  ``startup_failure``), among completed runs; cancelled and skipped runs
  count in neither.
- ``duration_p50/p90/p95``: seconds, over successful *attempts*, each attempt
  counted once, so a re-run neither hides nor doubles a duration.
- ``queue_p50/p95``: seconds from a run being requested to its first job
  starting, where both are known, over first attempts (GitHub keeps a run's
  first ``created_at`` on its re-runs).
- ``flaky_commits``: commits on which the same workflow (or, for jobs, the
  same job) both failed and later passed: the flaky-test signal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from controltower.domain import is_failed, is_passed


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range ``[start, end)``."""

    start: datetime
    end: datetime

    def previous(self) -> Window:
        """The window of the same length just before this one."""
        return Window(self.start - (self.end - self.start), self.start)

    @property
    def length(self) -> timedelta:
        """How long the window is."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a run (or one job of an attempt) as metrics need it."""

    group: str
    run_key: str
    attempt: int
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None
    duration_s: float | None
    head_sha: str | None


@dataclass(frozen=True, slots=True)
class Stats:
    """The figures of one group in one window (see the module doc for what each counts)."""

    runs: int
    attempts: int
    reruns: int
    success_rate: float | None
    failure_rate: float | None
    duration_p50: float | None
    duration_p90: float | None
    duration_p95: float | None
    queue_p50: float | None
    queue_p95: float | None
    flaky_commits: int


def percentile(values: Sequence[float], q: float, *, ordered: bool = False) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation, or ``None`` when empty.

    ``ordered`` says ``values`` are sorted already.
    """
    if not values:
        return None
    if not ordered:
        values = sorted(values)
    rank = (len(values) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt reduced to what the figures count (no timestamps: cheap to load in bulk)."""

    latest: bool
    conclusion: str | None
    duration_s: float | None
    queue_s: float | None
    attempt: int = 1


def summarize(outcomes: Sequence[Outcome], flaky: int = 0) -> Stats:
    """The figures of one group from its attempts; ``flaky``: its flaky commits, counted apart."""
    runs = completed = passed = failed = reruns = 0
    durations: list[float] = []
    queues: list[float] = []
    for o in outcomes:
        if o.latest:
            runs += 1
            reruns += max(0, o.attempt - 1)  # counted from its number: earlier ones may be missing
            if o.conclusion is not None:
                completed += 1
                passed += is_passed(o.conclusion)
                failed += is_failed(o.conclusion)
        if o.duration_s is not None and is_passed(o.conclusion):
            durations.append(o.duration_s)
        if o.queue_s is not None:
            queues.append(o.queue_s)
    durations.sort()
    queues.sort()
    return Stats(
        runs=runs,
        attempts=runs + reruns,
        reruns=reruns,
        success_rate=passed / completed if completed else None,
        failure_rate=failed / completed if completed else None,
        duration_p50=percentile(durations, 50, ordered=True),
        duration_p90=percentile(durations, 90, ordered=True),
        duration_p95=percentile(durations, 95, ordered=True),
        queue_p50=percentile(queues, 50, ordered=True),
        queue_p95=percentile(queues, 95, ordered=True),
        flaky_commits=flaky,
    )


def stats(attempts: Sequence[Attempt]) -> Stats:
    """Summarize the attempts of one group (the latest attempt of each run decides)."""
    latest: dict[str, Attempt] = {}
    for item in attempts:
        current = latest.get(item.run_key)
        if current is None or item.attempt > current.attempt:
            latest[item.run_key] = item
    outcomes = [
        Outcome(latest[a.run_key] is a, a.conclusion, a.duration_s, _queue(a), a.attempt)
        for a in attempts
    ]
    return summarize(outcomes, flaky_commits(attempts))


def _queue(a: Attempt) -> float | None:
    """Requested to started, for a first attempt (a re-run keeps the run's first ``created_at``)."""
    if a.attempt > 1 or a.started_at is None or a.created_at is None:
        return None
    if a.started_at < a.created_at:
        return None
    return (a.started_at - a.created_at).total_seconds()


def flaky_commits(attempts: Iterable[Attempt]) -> int:
    """Commits on which the group both failed and, later, passed."""
    by_sha: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        if a.head_sha and a.conclusion is not None:
            by_sha[a.head_sha].append(a)
    count = 0
    for items in by_sha.values():
        ordered = sorted(items, key=_order)
        first_failure = next((i for i, a in enumerate(ordered) if is_failed(a.conclusion)), None)
        if first_failure is not None and any(
            is_passed(a.conclusion) for a in ordered[first_failure + 1 :]
        ):
            count += 1
    return count


def _order(a: Attempt) -> tuple[datetime | str, int]:
    return (a.created_at or "", a.attempt)


@dataclass(frozen=True, slots=True)
class GroupMetrics:
    """A group's figures now, in the previous window, and the change between them."""

    group: str
    current: Stats
    previous: Stats | None
    change: dict[str, float | None]


def compare(current: Stats, previous: Stats | None) -> dict[str, float | None]:
    """Each figure's change against the previous window (current minus previous)."""
    now, before = asdict(current), asdict(previous) if previous is not None else {}
    change: dict[str, float | None] = {}
    for name, value in now.items():
        old = before.get(name)
        change[name] = None if value is None or old is None else value - old
    return change


def by_group(current: Sequence[Attempt], previous: Sequence[Attempt]) -> list[GroupMetrics]:
    """Metrics of every group present in the current window, busiest first."""
    now = _split(current, lambda a: a.group)
    before = _split(previous, lambda a: a.group)
    result = []
    for group, items in now.items():
        current_stats = stats(items)
        previous_stats = stats(before[group]) if group in before else None
        result.append(
            GroupMetrics(
                group, current_stats, previous_stats, compare(current_stats, previous_stats)
            )
        )
    result.sort(key=lambda g: (-g.current.attempts, g.group))
    return result


def _split(items: Sequence[Attempt], key: Callable[[Attempt], str]) -> dict[str, list[Attempt]]:
    groups: dict[str, list[Attempt]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups
