"""The facts controltower keeps: runs, jobs, steps, deployments, pushes and pull requests.

Facts are what normalizing a webhook delivery, importing a history record or
backfilling from the API produce, and what the store persists. They are plain
frozen values; every timestamp is timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class StepFact:
    """One step of a job."""

    number: int
    name: str
    status: str | None = None
    conclusion: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobFact:
    """One job of one run attempt; ``key`` is unique within the attempt."""

    key: str
    name: str
    job_id: str | None = None
    status: str | None = None
    conclusion: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    runner_os: str | None = None
    runner_labels: tuple[str, ...] = ()
    runner_name: str | None = None
    runner_group: str | None = None
    steps: tuple[StepFact, ...] = ()
    snapshot: str = ""


@dataclass(frozen=True, slots=True)
class RunFact:
    """One attempt of one workflow run; (repository, run_id, attempt) identifies it."""

    repository: str
    run_id: str
    attempt: int = 1
    run_number: int | None = None
    workflow: str = "default"
    workflow_path: str | None = None
    workflow_github_id: int | None = None
    event: str | None = None
    branch: str | None = None
    head_sha: str | None = None
    actor: str | None = None
    pull_request: int | None = None
    status: str = "completed"
    conclusion: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime | None = None
    duration_s: float | None = None
    runner_os: str | None = None
    runner_labels: tuple[str, ...] = ()
    files_changed: int | None = None
    lines_added: int | None = None
    lines_deleted: int | None = None
    commits: int | None = None
    committers: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    jobs: tuple[JobFact, ...] | None = None
    source: str = "webhook"
    snapshot: str = ""


@dataclass(frozen=True, slots=True)
class JobDeliveryFact:
    """A job reported on its own (``workflow_job``): the job and the attempt it belongs to."""

    repository: str
    run_id: str
    attempt: int
    workflow: str
    branch: str | None
    head_sha: str | None
    job: JobFact


@dataclass(frozen=True, slots=True)
class DeploymentFact:
    """A deployment GitHub was asked to make."""

    repository: str
    deployment_id: str
    sha: str | None
    ref: str | None
    task: str | None
    environment: str | None
    creator: str | None
    description: str | None
    production: bool | None
    transient: bool | None
    run_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    snapshot: str = ""


@dataclass(frozen=True, slots=True)
class DeploymentStatusFact:
    """One state a deployment went through (pending, success, failure, error, inactive, ...)."""

    deployment: DeploymentFact
    status_id: str
    state: str
    environment: str | None
    description: str | None
    creator: str | None
    log_url: str | None
    environment_url: str | None
    created_at: datetime | None
    updated_at: datetime | None
    snapshot: str = ""


@dataclass(frozen=True, slots=True)
class PushFact:
    """A push to a branch or tag: what moved, and the commits it brought."""

    repository: str
    ref: str
    before: str
    after: str
    pusher: str | None
    commits: int
    distinct_commits: int
    created: bool
    deleted: bool
    forced: bool
    first_commit_at: datetime | None
    head_commit_at: datetime | None
    snapshot: str = ""
    # the workflow files (under .github/workflows/) its commits added, changed or removed
    workflow_files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PullRequestFact:
    """The latest known state of a pull request, with its change size."""

    repository: str
    number: int
    state: str
    title: str | None
    author: str | None
    head_ref: str | None
    head_sha: str | None
    base_ref: str | None
    draft: bool | None
    merged: bool | None
    additions: int | None
    deletions: int | None
    changed_files: int | None
    commits: int | None
    created_at: datetime | None
    updated_at: datetime | None
    closed_at: datetime | None
    merged_at: datetime | None
    snapshot: str = ""
