"""Statuses, conclusions and the order in which snapshots of one thing supersede each other.

GitHub reports a run or job several times as it moves from requested to
completed, and deliveries arrive in any order, sometimes twice. Every stored
row keeps the snapshot with the greatest ``snapshot_key``: the key orders by
lifecycle stage first, then by the time GitHub last updated the object, then
by a digest of the content, so that the choice is a pure function of the set
of snapshots seen. Keeping a maximum is idempotent, commutative and
associative, which is what makes normalization converge under any
permutation and duplication of deliveries, and why a completed job never goes
back to in progress.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import orjson


class Conclusion(StrEnum):
    """GitHub's vocabulary for how a completed run, job or step ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    NEUTRAL = "neutral"
    ACTION_REQUIRED = "action_required"
    STARTUP_FAILURE = "startup_failure"
    STALE = "stale"


FAILED_CONCLUSIONS = frozenset(
    {Conclusion.FAILURE, Conclusion.TIMED_OUT, Conclusion.STARTUP_FAILURE}
)

RUN_STATUSES = frozenset({"requested", "pending", "waiting", "queued", "in_progress", "completed"})
# A stored webhook delivery: waiting to be normalized, or how normalizing it ended.
DeliveryState = Literal["pending", "processed", "ignored", "failed"]

_RANK = {
    "requested": 1,
    "pending": 1,
    "waiting": 1,
    "queued": 1,
    "in_progress": 2,
    "completed": 3,
}


RUN_TIME_LIMIT = timedelta(days=35)
"""The longest a workflow run lasts: GitHub cancels one still going after 35 days."""
JOB_TIME_LIMIT = timedelta(days=5)
"""The longest a job runs: GitHub ends one after 6 hours on its runners, 5 days on others."""
QUEUE_TIME_LIMIT = timedelta(hours=24)
"""The longest a run waits to start: GitHub cancels one queued for more than 24 hours."""
NOT_STARTED = frozenset({"requested", "pending", "queued"})
END_NOT_KNOWN = "end not known"
"""The result of a run GitHub reported unfinished that cannot be going on any more: its
end (completed, cancelled by GitHub's limits, ...) never arrived."""


def could_be_running(status: str | None, since: datetime | None, now: datetime) -> bool:
    """Whether a run GitHub last reported with ``status`` can still be going on at ``now``.

    ``since`` is when the run (its attempt) was created or started. A completed run is
    not; one not started yet only within ``QUEUE_TIME_LIMIT`` of ``since``; one waiting
    (for an environment's approval) or in progress only within ``RUN_TIME_LIMIT``. An
    unfinished run without a time could be. A run outside these limits was ended by
    GitHub, but its end never arrived: it is shown as ``END_NOT_KNOWN``, neither counted
    in flight nor predicted.
    """
    if status == "completed":
        return False
    if since is None:
        return True
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    limit = QUEUE_TIME_LIMIT if status in NOT_STARTED else RUN_TIME_LIMIT
    return now - since <= limit


def run_result(
    status: str | None, conclusion: str | None, since: datetime | None, now: datetime
) -> str:
    """A run's result in a word: its conclusion, else its status while it can be going on,
    else ``END_NOT_KNOWN``."""
    if conclusion:
        return conclusion
    if status == "completed" or could_be_running(status, since, now):
        return status or "–"
    return END_NOT_KNOWN


def status_rank(status: str | None) -> int:
    """Lifecycle stage of a status: 0 unknown, 1 waiting, 2 running, 3 completed."""
    return _RANK.get(status or "", 0)


def is_failed(conclusion: str | None) -> bool:
    """Whether a conclusion counts as a failure (failure, timed_out, startup_failure)."""
    return conclusion in FAILED_CONCLUSIONS


def is_passed(conclusion: str | None) -> bool:
    """Whether a conclusion counts as a pass (success only)."""
    return conclusion == Conclusion.SUCCESS


def outcome(conclusion: str | None) -> bool | None:
    """True failed, False passed, None neither (cancelled, skipped, neutral, unknown)."""
    if is_failed(conclusion):
        return True
    return False if is_passed(conclusion) else None


def snapshot_key(status: str | None, updated_at: datetime | None, digest: str) -> str:
    """A string whose order is the order in which snapshots supersede each other."""
    stamp = updated_at.strftime("%Y%m%dT%H%M%S.%f") if updated_at else "0" * 22
    return f"{status_rank(status)}|{stamp}|{digest}"


def digest(value: Any) -> str:
    """A short, stable digest of a JSON-able value (dataclasses included) to break ties."""
    blob = orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(blob, digest_size=8).hexdigest()


WAIT_BETWEEN_JOBS_S = 600.0
"""A run that ran no job for longer than this between two of its jobs waited for someone
(an environment's reviewers, a manual gate); ``anomaly.wait_between_jobs_minutes``."""


def waited_between_jobs(
    spans: Iterable[tuple[datetime, datetime]], longer_than_s: float = WAIT_BETWEEN_JOBS_S
) -> float:
    """Seconds a run stood still between its jobs: the stretches longer than ``longer_than_s``
    from the end of every job begun so far to the start of the next, with no job running.

    ``spans`` are the jobs' (started, completed), in any order. A job that waits for its
    environment's reviewers starts only once approved, after the jobs before it ended, so
    the wait is such a stretch; a runner picking the next job up takes seconds.
    """
    waited = 0.0
    busy_until: datetime | None = None
    for started, completed in sorted(spans):
        if busy_until is not None:
            idle = (started - busy_until).total_seconds()
            if idle > longer_than_s:
                waited += idle
        busy_until = completed if busy_until is None else max(busy_until, completed)
    return waited
