"""The rows a telemetry question is about: a time window and filters, as one query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select

from controltower.store.queries import repository_named
from controltower.store.tables import (
    Deployment,
    DeploymentStatus,
    Job,
    Push,
    Repository,
    Step,
    Workflow,
    WorkflowRun,
    table_of,
)
from controltower.telemetry.metrics import Window

runs_t, jobs_t, steps_t = table_of(WorkflowRun), table_of(Job), table_of(Step)
repos_t, workflows_t = table_of(Repository), table_of(Workflow)
deps_t, statuses_t, pushes_t = table_of(Deployment), table_of(DeploymentStatus), table_of(Push)
FINAL_STATES = ("success", "failure", "error")

GROUPS = ("repository", "workflow", "branch", "job")


@dataclass(frozen=True, slots=True)
class Filters:
    """What to look at: any of repository, workflow, branch and event (``None``: all)."""

    repository: str | None = None
    workflow: str | None = None
    branch: str | None = None
    event: str | None = None


def runs_query(window: Window, filters: Filters, *columns: Any) -> Select[Any]:
    query = (
        select(*columns)
        .select_from(runs_t)
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .join(workflows_t, workflows_t.c.id == runs_t.c.workflow_id)
        .where(runs_t.c.created_at >= window.start, runs_t.c.created_at < window.end)
    )
    if filters.repository:
        query = query.where(repository_named(filters.repository))
    if filters.workflow:
        query = query.where(workflows_t.c.name == filters.workflow)
    if filters.branch:
        query = query.where(runs_t.c.branch == filters.branch)
    if filters.event:
        query = query.where(runs_t.c.event == filters.event)
    return query
