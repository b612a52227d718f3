"""The stored facts as comparable data: natural keys instead of surrogate ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

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

SURROGATE = {"id", "repository_id", "workflow_id", "run_pk", "job_pk", "deployment_pk"}


def _plain(row: Any, **keys: Any) -> tuple[tuple[str, Any], ...]:
    values = {k: v for k, v in row._mapping.items() if k not in SURROGATE}
    values.update(keys)
    return tuple(sorted((k, repr(v)) for k, v in values.items()))


def dump_facts(engine: Engine) -> dict[str, list[Any]]:
    """Every fact row, keyed by natural keys, sorted; equal dumps mean equal stores."""
    with engine.connect() as conn:
        repos = dict(conn.execute(select(Repository.id, Repository.full_name)).all())
        workflows = {
            wid: (repos[rid], name)
            for wid, rid, name in conn.execute(
                select(Workflow.id, Workflow.repository_id, Workflow.name)
            )
        }
        runs, run_keys = [], {}
        for row in conn.execute(select(table_of(WorkflowRun))):
            run_keys[row.id] = (repos[row.repository_id], row.run_id, row.attempt)
            runs.append(
                _plain(
                    row, repository=repos[row.repository_id], workflow=workflows[row.workflow_id]
                )
            )
        jobs, job_keys = [], {}
        for row in conn.execute(select(table_of(Job))):
            job_keys[row.id] = (run_keys[row.run_pk], row.key)
            jobs.append(_plain(row, run=run_keys[row.run_pk]))
        steps = [
            _plain(row, job=job_keys[row.job_pk]) for row in conn.execute(select(table_of(Step)))
        ]
        deployments, dep_keys = [], {}
        for row in conn.execute(select(table_of(Deployment))):
            dep_keys[row.id] = (repos[row.repository_id], row.deployment_id)
            deployments.append(_plain(row, repository=repos[row.repository_id]))
        statuses = [
            _plain(row, deployment=dep_keys[row.deployment_pk])
            for row in conn.execute(select(table_of(DeploymentStatus)))
        ]
        pushes = [
            _plain(row, repository=repos[row.repository_id])
            for row in conn.execute(select(table_of(Push)))
        ]
        prs = [
            _plain(row, repository=repos[row.repository_id])
            for row in conn.execute(select(table_of(PullRequest)))
        ]
    return {
        "repositories": sorted(repos.values()),
        "workflows": sorted(workflows.values()),
        "runs": sorted(runs),
        "jobs": sorted(jobs),
        "steps": sorted(steps),
        "deployments": sorted(deployments),
        "deployment_statuses": sorted(statuses),
        "pushes": sorted(pushes),
        "pull_requests": sorted(prs),
    }
