"""Persisting facts: conditional upserts that keep the greatest snapshot of every row.

``FactWriter`` works on one open connection inside the caller's transaction
(the unit of work commits, the writer never does). Every write is an
``INSERT ... ON CONFLICT`` on the row's natural key; rows that GitHub reports
repeatedly are replaced only by a snapshot with a greater key, atomically in
the database, so concurrent writers (several workers on PostgreSQL) converge
as a single writer would. Child rows (a run's jobs, a job's steps) are
replaced only when their parent's snapshot won.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, any_, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from controltower.domain import (
    DeploymentFact,
    DeploymentStatusFact,
    JobDeliveryFact,
    JobFact,
    PullRequestFact,
    PushFact,
    RunFact,
    StepFact,
    digest,
    snapshot_key,
)
from controltower.domain.billing import job_figures, run_figures
from controltower.store.queries import repository_named
from controltower.store.tables import (
    Deployment,
    DeploymentStatus,
    Job,
    PullRequest,
    Push,
    Repository,
    Step,
    Workflow,
    WorkflowRun,
    table_of,
)
from controltower.store.upsert import insert_for

runs_t = table_of(WorkflowRun)
jobs_t = table_of(Job)
steps_t = table_of(Step)

_RUN_COLUMNS = (
    "workflow_id",
    "run_number",
    "event",
    "branch",
    "head_sha",
    "actor",
    "pull_request",
    "status",
    "conclusion",
    "created_at",
    "started_at",
    "completed_at",
    "updated_at",
    "duration_s",
    "runner_os",
    "runner_labels",
    "files_changed",
    "lines_added",
    "lines_deleted",
    "commits",
    "committers",
    "extra",
    "source",
    "snapshot",
    "created_day",
    "queue_s",
    "sku",
    "est_minutes",
)
_JOB_COLUMNS = (
    "job_id",
    "name",
    "status",
    "conclusion",
    "created_at",
    "started_at",
    "completed_at",
    "runner_os",
    "runner_labels",
    "runner_name",
    "runner_group",
    "snapshot",
    "sku",
    "bill_day",
    "minutes_steps",
    "minutes_span",
)


class FactWriter:
    """Writes facts on one connection, caching repository and workflow ids for the transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._repos: dict[str, int] = {}
        self._workflows: dict[tuple[int, str], int] = {}

    def repository_id(self, full_name: str) -> int:
        """The id of the repository named ``full_name``, created when new.

        A repository stored under another case (``Pallets/Flask`` for
        ``pallets/flask``, as GitHub accepts either) is the same one: its id,
        and the spelling it was stored with, are kept. Two writers creating it at
        once in two spellings make one row: on PostgreSQL the one that comes second
        waits for the first to commit (a transaction-scoped advisory lock on the
        lower-cased name) and then finds its row; SQLite writers take the database's
        write lock up front.
        """
        if (cached := self._repos.get(full_name)) is not None:
            return cached
        table = table_of(Repository)
        find = select(table.c.id).where(repository_named(full_name)).order_by(table.c.id).limit(1)
        repo_id: int | None = self.conn.execute(find).scalar_one_or_none()
        if repo_id is None and self.conn.dialect.name == "postgresql":
            self.conn.execute(
                select(func.pg_advisory_xact_lock(func.hashtextextended(full_name.lower(), 0)))
            )
            repo_id = self.conn.execute(find).scalar_one_or_none()
        if repo_id is None:
            stmt = insert_for(self.conn, table).values(full_name=full_name, created_at=_now())
            stmt = stmt.on_conflict_do_update(
                index_elements=["full_name"], set_={"full_name": stmt.excluded.full_name}
            ).returning(table.c.id)
            repo_id = self.conn.execute(stmt).scalar_one()
        self._repos[full_name] = repo_id
        return repo_id

    def workflow_id(
        self, repo_id: int, name: str, path: str | None = None, github_id: int | None = None
    ) -> int:
        """The id of workflow ``name`` of a repository, created when new; fills path and id."""
        key = (repo_id, name)
        if (cached := self._workflows.get(key)) is not None and path is None and github_id is None:
            return cached
        table = table_of(Workflow)
        stmt = insert_for(self.conn, table).values(
            repository_id=repo_id, name=name, path=path, github_id=github_id
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["repository_id", "name"],
            set_={
                "path": _coalesce(stmt.excluded.path, table.c.path),
                "github_id": _coalesce(stmt.excluded.github_id, table.c.github_id),
            },
        ).returning(table.c.id)
        workflow_id: int = self.conn.execute(stmt).scalar_one()
        self._workflows[key] = workflow_id
        return workflow_id

    def upsert_runs(self, facts: Sequence[RunFact]) -> int:
        """Upsert run attempts; return how many were stored (new, or a greater snapshot).

        A run whose stored snapshot is at least as great is left alone. For runs
        that changed and carry ``jobs``, the jobs and steps are replaced: only
        those need the ids back (``RETURNING``); the others are sent as a plain
        ``executemany``, which the drivers run far faster.
        """
        with_jobs = [fact for fact in facts if fact.jobs is not None]
        plain = [self._run_row(fact) for fact in facts if fact.jobs is None]
        stored = 0
        if plain:
            # Drivers report no reliable row count for batched statements, so the
            # runs this batch will not replace are counted before it runs.
            stored += len(plain) - self._already_stored(plain)
            self.conn.execute(self._upsert_runs_statement(), plain)
        if with_jobs:
            rows = [self._run_row(fact) for fact in with_jobs]
            stmt = self._upsert_runs_statement().returning(
                runs_t.c.id, runs_t.c.repository_id, runs_t.c.run_id, runs_t.c.attempt
            )
            changed = {
                (row.repository_id, row.run_id, row.attempt): row.id
                for row in self.conn.execute(stmt, rows)
            }
            jobs: dict[int, tuple[JobFact, ...]] = {}
            for fact, row in zip(with_jobs, rows, strict=True):
                key = (row["repository_id"], row["run_id"], row["attempt"])
                if key in changed and fact.jobs is not None:
                    jobs[changed[key]] = fact.jobs
            self._replace_jobs(jobs)
            stored += len(changed)
        return stored

    def _already_stored(self, rows: list[dict[str, Any]]) -> int:
        """How many of ``rows`` are stored with an equal or greater snapshot already."""
        incoming: dict[int, dict[tuple[str, int], str]] = {}
        for r in rows:
            incoming.setdefault(r["repository_id"], {})[(r["run_id"], r["attempt"])] = r["snapshot"]
        count = 0
        for repo_id, runs in incoming.items():
            run_ids = sorted({run_id for run_id, _ in runs})
            if self.conn.dialect.name == "postgresql":
                # One array parameter: psycopg parses thousands of placeholders slowly.
                match = runs_t.c.run_id == any_(bindparam("ids", run_ids, type_=ARRAY(String)))
            else:
                match = runs_t.c.run_id.in_(run_ids)
            existing = self.conn.execute(
                select(runs_t.c.run_id, runs_t.c.attempt, runs_t.c.snapshot).where(
                    runs_t.c.repository_id == repo_id, match
                )
            )
            count += sum(
                1
                for run_id, attempt, snapshot in existing
                if (new := runs.get((run_id, attempt))) is not None and snapshot >= new
            )
        return count

    def _upsert_runs_statement(self) -> Any:
        stmt = insert_for(self.conn, runs_t)
        return stmt.on_conflict_do_update(
            index_elements=["repository_id", "run_id", "attempt"],
            set_={name: stmt.excluded[name] for name in _RUN_COLUMNS},
            where=stmt.excluded.snapshot > runs_t.c.snapshot,
        )

    def upsert_job(self, fact: JobDeliveryFact) -> bool:
        """Upsert a job reported on its own; return whether its snapshot was stored."""
        run_pk = self._run_for_job(fact)
        stmt = insert_for(self.conn, jobs_t)
        row = {"run_pk": run_pk, "key": fact.job.key, **_job_values(fact.job)}
        stmt = stmt.on_conflict_do_update(
            index_elements=["run_pk", "key"],
            set_={name: stmt.excluded[name] for name in _JOB_COLUMNS},
            where=stmt.excluded.snapshot > jobs_t.c.snapshot,
        ).returning(jobs_t.c.id)
        job_pk = self.conn.execute(stmt, row).scalar_one_or_none()
        if job_pk is None:
            return False
        self.conn.execute(delete(steps_t).where(steps_t.c.job_pk == job_pk))
        self._insert_steps({job_pk: fact.job})
        return True

    def upsert_deployment(self, fact: DeploymentFact) -> int:
        """Upsert a deployment and return its id."""
        table = table_of(Deployment)
        values = dataclasses.asdict(fact)
        values["repository_id"] = self.repository_id(values.pop("repository"))
        self._upsert_snapshot(table, values, ("repository_id", "deployment_id"))
        deployment_pk: int = self.conn.execute(
            select(table.c.id).where(
                table.c.repository_id == values["repository_id"],
                table.c.deployment_id == fact.deployment_id,
            )
        ).scalar_one()
        return deployment_pk

    def upsert_deployment_status(self, fact: DeploymentStatusFact) -> None:
        """Record a deployment status and its deployment."""
        values = {f.name: getattr(fact, f.name) for f in dataclasses.fields(fact)}
        values["deployment_pk"] = self.upsert_deployment(values.pop("deployment"))
        self._upsert_snapshot(table_of(DeploymentStatus), values, ("deployment_pk", "status_id"))

    def upsert_push(self, fact: PushFact) -> None:
        """Record a push; the same push twice is one row."""
        values = dataclasses.asdict(fact)
        values["repository_id"] = self.repository_id(values.pop("repository"))
        self._upsert_snapshot(table_of(Push), values, ("repository_id", "ref", "after"))

    def _upsert_snapshot(self, table: Any, values: dict[str, Any], key: tuple[str, ...]) -> None:
        stmt = insert_for(self.conn, table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={k: stmt.excluded[k] for k in values if k not in key},
            where=stmt.excluded.snapshot > table.c.snapshot,
        )
        self.conn.execute(stmt)

    def upsert_pull_request(self, fact: PullRequestFact) -> None:
        """Keep the latest snapshot of a pull request."""
        values = dataclasses.asdict(fact)
        values["repository_id"] = self.repository_id(values.pop("repository"))
        self._upsert_snapshot(table_of(PullRequest), values, ("repository_id", "number"))

    def _run_row(self, fact: RunFact) -> dict[str, Any]:
        repo_id = self.repository_id(fact.repository)
        return {
            "repository_id": repo_id,
            "workflow_id": self.workflow_id(
                repo_id, fact.workflow, fact.workflow_path, fact.workflow_github_id
            ),
            "run_id": fact.run_id,
            "attempt": fact.attempt,
            "run_number": fact.run_number,
            "event": fact.event,
            "branch": fact.branch,
            "head_sha": fact.head_sha,
            "actor": fact.actor,
            "pull_request": fact.pull_request,
            "status": fact.status,
            "conclusion": fact.conclusion,
            "created_at": fact.created_at,
            "started_at": fact.started_at,
            "completed_at": fact.completed_at,
            "updated_at": fact.updated_at,
            "duration_s": fact.duration_s,
            "runner_os": fact.runner_os,
            "runner_labels": list(fact.runner_labels) or None,
            "files_changed": fact.files_changed,
            "lines_added": fact.lines_added,
            "lines_deleted": fact.lines_deleted,
            "commits": fact.commits,
            "committers": fact.committers,
            "extra": fact.extra or None,
            "source": fact.source,
            "snapshot": fact.snapshot,
            **run_figures(
                fact.created_at,
                fact.started_at,
                fact.duration_s,
                fact.runner_labels,
                fact.runner_os,
                fact.attempt,
            ),
        }

    def _run_for_job(self, fact: JobDeliveryFact) -> int:
        """The attempt a job belongs to; a placeholder (rank 0) when the run is not known yet."""
        repo_id = self.repository_id(fact.repository)
        existing = self.conn.execute(
            select(runs_t.c.id).where(
                runs_t.c.repository_id == repo_id,
                runs_t.c.run_id == fact.run_id,
                runs_t.c.attempt == fact.attempt,
            )
        ).scalar_one_or_none()
        if existing is not None:
            return int(existing)
        placeholder = RunFact(
            repository=fact.repository,
            run_id=fact.run_id,
            attempt=fact.attempt,
            workflow=fact.workflow,
            branch=fact.branch,
            head_sha=fact.head_sha,
            status="unknown",
            source="webhook",
        )
        stamped = dataclasses.replace(
            placeholder, snapshot=snapshot_key(None, None, digest(placeholder))
        )
        self.upsert_runs([stamped])
        run_pk: int = self.conn.execute(
            select(runs_t.c.id).where(
                runs_t.c.repository_id == repo_id,
                runs_t.c.run_id == fact.run_id,
                runs_t.c.attempt == fact.attempt,
            )
        ).scalar_one()
        return run_pk

    def _replace_jobs(self, jobs_by_run: dict[int, tuple[JobFact, ...]]) -> None:
        if not jobs_by_run:
            return
        self.conn.execute(delete(jobs_t).where(jobs_t.c.run_pk.in_(list(jobs_by_run))))
        rows = [
            {"run_pk": run_pk, "key": job.key, **_job_values(job)}
            for run_pk, jobs in jobs_by_run.items()
            for job in jobs
        ]
        if not rows:
            return
        inserted = self.conn.execute(
            insert_for(self.conn, jobs_t).returning(jobs_t.c.id, jobs_t.c.run_pk, jobs_t.c.key),
            rows,
        )
        by_key = {(job_run, job.key): job for job_run, jobs in jobs_by_run.items() for job in jobs}
        self._insert_steps({row.id: by_key[(row.run_pk, row.key)] for row in inserted})

    def _insert_steps(self, jobs: dict[int, JobFact]) -> None:
        rows = [
            {
                "job_pk": job_pk,
                "number": step.number,
                "name": step.name,
                "status": step.status,
                "conclusion": step.conclusion,
                "started_at": step.started_at,
                "completed_at": step.completed_at,
            }
            for job_pk, job in jobs.items()
            for step in _unique_steps(job.steps)
        ]
        if rows:
            self.conn.execute(insert_for(self.conn, steps_t), rows)


def _job_values(job: JobFact) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "name": job.name,
        "status": job.status,
        "conclusion": job.conclusion,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "runner_os": job.runner_os,
        "runner_labels": list(job.runner_labels) or None,
        "runner_name": job.runner_name,
        "runner_group": job.runner_group,
        "snapshot": job.snapshot,
        **job_figures(job),
    }


def _unique_steps(steps: Iterable[StepFact]) -> list[StepFact]:
    seen: dict[int, StepFact] = {}
    for step in steps:
        seen.setdefault(step.number, step)
    return list(seen.values())


def _coalesce(first: Any, second: Any) -> Any:
    return func.coalesce(first, second)


def _now() -> datetime:
    return datetime.now(UTC)
