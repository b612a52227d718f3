"""The drill-down below a repository: one workflow, one run, one job, and their steps.

Step figures are taken over the most recent ``STEP_SAMPLE`` attempts of the
workflow in the window: enough to rank steps by how long they take, and a
bound on the work a page does whatever the window.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from controltower.domain import WAIT_BETWEEN_JOBS_S, is_failed, is_passed, waited_between_jobs
from controltower.store.queries import repository_named
from controltower.telemetry.metrics import Attempt, Stats, Window, percentile, stats
from controltower.telemetry.scope import (
    Filters,
    jobs_t,
    repos_t,
    runs_query,
    runs_t,
    steps_t,
    workflows_t,
)
from controltower.telemetry.timeline import Span, critical_path

STEP_SAMPLE = 200


@dataclass(frozen=True, slots=True)
class WorkflowRef:
    """A stored workflow of a repository."""

    id: int
    repository: str
    name: str
    path: str | None


@dataclass(frozen=True, slots=True)
class StepStats:
    """How long one step of one job takes, over the sampled attempts."""

    job: str
    step: str
    samples: int
    p50: float | None
    p95: float | None
    failures: int


@dataclass(frozen=True, slots=True)
class StepRow:
    """One step of one job."""

    number: int
    name: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None

    @property
    def seconds(self) -> float | None:
        """How long the step ran."""
        if self.started_at is None or self.completed_at is None:
            return None
        return max(0.0, (self.completed_at - self.started_at).total_seconds())


@dataclass(frozen=True, slots=True)
class JobRow:
    """One job of a run attempt, with its steps."""

    id: int
    key: str
    name: str
    status: str | None
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    runner_os: str | None
    runner_labels: tuple[str, ...]
    runner_name: str | None
    steps: tuple[StepRow, ...]
    critical: bool = False

    def span(self) -> Span:
        """The job as a timeline span."""
        return Span(
            str(self.id),
            self.name,
            self.conclusion,
            self.created_at,
            self.started_at,
            self.completed_at,
        )

    @property
    def seconds(self) -> float | None:
        """How long the job ran."""
        return self.span().seconds

    @property
    def queued_s(self) -> float | None:
        """How long it waited for a runner (GitHub's ``created_at`` to ``started_at``)."""
        if self.created_at is None or self.started_at is None:
            return None
        return max(0.0, (self.started_at - self.created_at).total_seconds())


@dataclass(frozen=True, slots=True)
class RunDetail:
    """One attempt of a run: its facts, the other attempts, its jobs and critical path."""

    id: int
    repository: str
    workflow: WorkflowRef
    run_id: str
    attempt: int
    attempts: tuple[int, ...]
    run_number: int | None
    event: str | None
    branch: str | None
    head_sha: str | None
    actor: str | None
    pull_request: int | None
    status: str
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_s: float | None
    source: str
    jobs: tuple[JobRow, ...]

    @property
    def critical_path(self) -> list[JobRow]:
        """The jobs on the critical path, first to last."""
        return [job for job in self.jobs if job.critical]

    def waited_s(self, longer_than_s: float = WAIT_BETWEEN_JOBS_S) -> float:
        """Seconds the attempt stood still between its jobs for longer than ``longer_than_s``
        each time (``domain.waited_between_jobs``): a wait for a deployment's reviewers."""
        spans = [
            (job.started_at, job.completed_at)
            for job in self.jobs
            if job.started_at is not None and job.completed_at is not None
        ]
        return waited_between_jobs(spans, longer_than_s)

    @property
    def queue_s(self) -> float | None:
        """From the attempt being requested to its first job starting: for the first attempt
        from the run's ``created_at``; for a re-run, which keeps that, from the attempt's own
        start (``started_at``, GitHub's ``run_started_at``), and only when its jobs are known."""
        starts = [j.started_at for j in self.jobs if j.started_at is not None]
        if self.attempt > 1:
            requested, first = self.started_at, min(starts) if starts else None
        else:
            requested, first = self.created_at, min(starts) if starts else self.started_at
        if first is None or requested is None or first < requested:
            return None
        return (first - requested).total_seconds()


def find_workflow(conn: Connection, repository: str, workflow_id: int) -> WorkflowRef | None:
    """The workflow with this id, if it belongs to ``repository``."""
    row = conn.execute(
        select(workflows_t.c.id, repos_t.c.full_name, workflows_t.c.name, workflows_t.c.path)
        .join(repos_t, repos_t.c.id == workflows_t.c.repository_id)
        .where(workflows_t.c.id == workflow_id, repository_named(repository))
    ).first()
    return None if row is None else WorkflowRef(row.id, row.full_name, row.name, row.path)


def workflow_ids(conn: Connection, repository: str) -> dict[str, int]:
    """The ids of a repository's workflows, by name."""
    rows = conn.execute(
        select(workflows_t.c.name, workflows_t.c.id)
        .join(repos_t, repos_t.c.id == workflows_t.c.repository_id)
        .where(repository_named(repository))
    )
    return {str(name): int(id_) for name, id_ in rows}


def successful_durations(conn: Connection, window: Window, filters: Filters) -> list[float]:
    """Durations in seconds of the successful attempts in the window (the distribution)."""
    rows = conn.execute(
        runs_query(window, filters, runs_t.c.duration_s, runs_t.c.conclusion).where(
            runs_t.c.duration_s.is_not(None)
        )
    )
    return [float(r.duration_s) for r in rows if is_passed(r.conclusion)]


def slowest_steps(
    conn: Connection, window: Window, filters: Filters, job: str | None = None, limit: int = 15
) -> list[StepStats]:
    """Steps ranked by median duration over the latest ``STEP_SAMPLE`` attempts in the window."""
    sample = (
        runs_query(window, filters, runs_t.c.id)
        .order_by(runs_t.c.created_at.desc())
        .limit(STEP_SAMPLE)
        .subquery()
    )
    query = (
        select(
            jobs_t.c.name.label("job"),
            steps_t.c.name.label("step"),
            steps_t.c.conclusion,
            steps_t.c.started_at,
            steps_t.c.completed_at,
        )
        .select_from(jobs_t)
        .join(sample, sample.c.id == jobs_t.c.run_pk)
        .join(steps_t, steps_t.c.job_pk == jobs_t.c.id)
    )
    if job is not None:
        query = query.where(jobs_t.c.name == job)
    seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
    failures: dict[tuple[str, str], int] = defaultdict(int)
    for row in conn.execute(query):
        key = (row.job, row.step)
        if row.started_at is not None and row.completed_at is not None:
            seconds[key].append((row.completed_at - row.started_at).total_seconds())
        failures[key] += is_failed(row.conclusion)
    ranked = [
        StepStats(
            job_name,
            step,
            len(values),
            percentile(values, 50),
            percentile(values, 95),
            failures[(job_name, step)],
        )
        for (job_name, step), values in seconds.items()
    ]
    ranked.sort(key=lambda s: -(s.p50 or 0))
    return ranked[:limit]


def run_detail(
    conn: Connection, repository: str, run_id: str, attempt: int | None = None
) -> RunDetail | None:
    """One attempt of a run (the latest unless ``attempt`` is given), with jobs and steps;
    ``repository`` in any case, the run names it as stored."""
    rows = conn.execute(
        select(
            runs_t,
            workflows_t.c.name.label("workflow"),
            workflows_t.c.path.label("wf_path"),
            repos_t.c.full_name.label("stored_name"),
        )
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .join(workflows_t, workflows_t.c.id == runs_t.c.workflow_id)
        .where(repository_named(repository), runs_t.c.run_id == run_id)
        .order_by(runs_t.c.attempt)
    ).all()
    if not rows:
        return None
    attempts = tuple(r.attempt for r in rows)
    chosen = [r for r in rows if r.attempt == attempt] if attempt is not None else rows[-1:]
    if not chosen:
        return None
    run = chosen[0]
    jobs = _jobs_of_run(conn, run.id)
    critical = set(critical_path([job.span() for job in jobs]))
    jobs = [replace(job, critical=str(job.id) in critical) for job in jobs]
    return RunDetail(
        id=run.id,
        repository=run.stored_name,
        workflow=WorkflowRef(run.workflow_id, run.stored_name, run.workflow, run.wf_path),
        run_id=run.run_id,
        attempt=run.attempt,
        attempts=attempts,
        run_number=run.run_number,
        event=run.event,
        branch=run.branch,
        head_sha=run.head_sha,
        actor=run.actor,
        pull_request=run.pull_request,
        status=run.status,
        conclusion=run.conclusion,
        created_at=run.created_at,
        started_at=run.started_at,
        completed_at=run.completed_at,
        duration_s=run.duration_s,
        source=run.source,
        jobs=tuple(jobs),
    )


def _jobs_of_run(conn: Connection, run_pk: int) -> list[JobRow]:
    job_rows = conn.execute(
        select(jobs_t).where(jobs_t.c.run_pk == run_pk).order_by(jobs_t.c.started_at, jobs_t.c.id)
    ).all()
    steps: dict[int, list[StepRow]] = defaultdict(list)
    if job_rows:
        for s in conn.execute(
            select(steps_t)
            .where(steps_t.c.job_pk.in_([j.id for j in job_rows]))
            .order_by(steps_t.c.job_pk, steps_t.c.number)
        ):
            steps[s.job_pk].append(
                StepRow(s.number, s.name, s.conclusion, s.started_at, s.completed_at)
            )
    return [_job_row(j, tuple(steps.get(j.id, ()))) for j in job_rows]


def _job_row(j: Any, steps: tuple[StepRow, ...]) -> JobRow:
    return JobRow(
        id=j.id,
        key=j.key,
        name=j.name,
        status=j.status,
        conclusion=j.conclusion,
        created_at=j.created_at,
        started_at=j.started_at,
        completed_at=j.completed_at,
        runner_os=j.runner_os,
        runner_labels=tuple(j.runner_labels or ()),
        runner_name=j.runner_name,
        steps=steps,
    )


@dataclass(frozen=True, slots=True)
class JobPoint:
    """One execution of a job in its history."""

    job_pk: int
    run_id: str
    attempt: int
    created_at: datetime | None
    conclusion: str | None
    seconds: float | None


@dataclass(frozen=True, slots=True)
class JobHistory:
    """A job (by name, in one workflow) over the window: each execution and the figures."""

    points: list[JobPoint]
    stats: Stats


def job_history(conn: Connection, window: Window, filters: Filters, job: str) -> JobHistory:
    """Every execution of ``job`` in the window, oldest first, and its figures."""
    rows = conn.execute(
        runs_query(
            window,
            filters,
            jobs_t.c.id.label("job_pk"),
            runs_t.c.run_id,
            runs_t.c.attempt,
            runs_t.c.created_at,
            runs_t.c.head_sha,
            jobs_t.c.conclusion,
            jobs_t.c.created_at.label("job_created_at"),
            jobs_t.c.started_at,
            jobs_t.c.completed_at,
        )
        .join(jobs_t, jobs_t.c.run_pk == runs_t.c.id)
        .where(jobs_t.c.name == job)
        .order_by(runs_t.c.created_at, runs_t.c.attempt)
    ).all()
    points, attempts = [], []
    for r in rows:
        seconds = (  # a skipped job may end a moment before it "started": no time at all
            max(0.0, (r.completed_at - r.started_at).total_seconds())
            if r.started_at is not None and r.completed_at is not None
            else None
        )
        points.append(JobPoint(r.job_pk, r.run_id, r.attempt, r.created_at, r.conclusion, seconds))
        attempts.append(
            Attempt(
                job,
                f"{r.run_id}#{job}",
                r.attempt,
                r.conclusion,
                r.job_created_at,
                r.started_at,
                seconds,
                r.head_sha,
            )
        )
    return JobHistory(points, stats(attempts))


def job_in_run(run: RunDetail, job_pk: int) -> JobRow | None:
    """The job ``job_pk`` if it belongs to ``run``."""
    return next((job for job in run.jobs if job.id == job_pk), None)


def run_of_job(conn: Connection, repository: str, job_pk: int) -> tuple[str, int] | None:
    """The (run id, attempt) a job belongs to, if it belongs to ``repository``."""
    row = conn.execute(
        select(runs_t.c.run_id, runs_t.c.attempt)
        .join(jobs_t, jobs_t.c.run_pk == runs_t.c.id)
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .where(jobs_t.c.id == job_pk, repository_named(repository))
    ).first()
    return None if row is None else (row.run_id, row.attempt)
