"""What a runner ran, as GitHub bills it: runner types and billable time of a job. Pure.

GitHub bills each job rounded up to whole minutes at the rate of its runner
type; self-hosted runners are free. Only time a runner actually ran the job
is billed. A job that waited for an approval or a runner and never ran a step
costs nothing (real histories hold deployment jobs that waited for weeks,
then failed or were cancelled, with no step run). Where the source records
steps (any job of the run has some), the billable span is from the first
step's start to the last step's end, and a job with no step that ran is free.
Where it does not, a cancelled or skipped job is free and any other is billed
from its start to its end, at most the six hours a GitHub-hosted runner lets
a job run. Prices per minute live in ``telemetry.cost``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from controltower.domain.facts import JobFact

SELF_HOSTED = "self_hosted"
LINUX = "linux"
LINUX_1_CORE = "linux_1core"
WINDOWS = "windows"
MACOS = "macos"
SKUS = (LINUX, LINUX_1_CORE, WINDOWS, MACOS, SELF_HOSTED)
FREE_WITHOUT_STEPS = frozenset({"cancelled", "skipped", "action_required"})
HOSTED_JOB_LIMIT_S = 6 * 3600.0


def runner_sku(labels: Iterable[str], runner_os: str | None = None) -> str:
    """The billing type of a runner from its labels (or, failing those, its OS)."""
    joined = " ".join(label.lower() for label in labels)
    if "self-hosted" in joined:
        return SELF_HOSTED
    if "ubuntu-slim" in joined:
        return LINUX_1_CORE
    for needle, sku in (("windows", WINDOWS), ("macos", MACOS)):
        if needle in joined:
            return sku
    if not joined and runner_os in (WINDOWS, MACOS):
        return runner_os
    return LINUX


def billable_seconds(job: JobFact, *, steps_known: bool | None = None) -> float:
    """Seconds a runner ran ``job``; ``steps_known``: whether its source records steps.

    By default the job's own steps say whether steps are recorded.
    """
    ran = [s for s in job.steps if s.started_at is not None and s.conclusion != "skipped"]
    if steps_known if steps_known is not None else bool(job.steps):
        ends = [s.completed_at for s in ran if s.completed_at is not None]
        if not ran or not ends:
            return 0.0
        start = min(s.started_at for s in ran if s.started_at is not None)
        return max(0.0, (max(ends) - start).total_seconds())
    if job.conclusion in FREE_WITHOUT_STEPS or job.started_at is None or job.completed_at is None:
        return 0.0
    return min(HOSTED_JOB_LIMIT_S, max(0.0, (job.completed_at - job.started_at).total_seconds()))


def billed_minutes(seconds: float) -> int:
    """Billable seconds as the whole minutes GitHub bills (rounded up; none for none)."""
    return math.ceil(seconds / 60) if seconds > 0 else 0


def bill_day(job: JobFact) -> date | None:
    """The UTC day a job is billed on: when it started (or ended, or was queued)."""
    stamp = job.started_at or job.completed_at or job.created_at
    return stamp.astimezone(UTC).date() if stamp else None


def job_figures(job: JobFact) -> dict[str, Any]:
    """What the store keeps beside a job for cost queries.

    ``minutes_steps`` is ``None`` when the job has no step records; which of
    the two minute counts applies depends on its run (whether any job of the
    run has steps), so the query chooses.
    """
    return {
        "sku": runner_sku(job.runner_labels, job.runner_os),
        "bill_day": bill_day(job),
        "minutes_steps": (
            billed_minutes(billable_seconds(job, steps_known=True)) if job.steps else None
        ),
        "minutes_span": billed_minutes(billable_seconds(job, steps_known=False)),
    }


def run_figures(
    created_at: datetime | None,
    started_at: datetime | None,
    duration_s: float | None,
    runner_labels: Iterable[str],
    runner_os: str | None,
    attempt: int = 1,
) -> dict[str, Any]:
    """What the store keeps beside a run attempt for aggregate queries.

    Its UTC day, its queue time (requested to started, when both are known and
    in order; none for a re-run, ``attempt`` over 1: GitHub keeps the run's
    first ``created_at``, so that span is how long after the first attempt it
    was re-run, not a wait), its runner type, and the minutes it is estimated
    at when no job of it is known (its whole duration, rounded up).
    """
    queue = None
    if created_at is not None and started_at is not None and attempt <= 1:
        queue = (started_at - created_at).total_seconds()
    return {
        "created_day": created_at.astimezone(UTC).date() if created_at else None,
        "queue_s": queue if queue is not None and queue >= 0 else None,
        "sku": runner_sku(runner_labels, runner_os),
        "est_minutes": billed_minutes(duration_s or 0.0),
    }
