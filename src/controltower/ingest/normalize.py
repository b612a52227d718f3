"""Normalize a webhook delivery into facts: a pure function of the event name and payload.

Each payload is first parsed strictly with githubkit's typed webhook models.
When a real payload fails that (GitHub adds fields and values faster than
schemas follow), the delivery is not dropped: the facts are read leniently
from the raw JSON and the validation error is recorded as the reason. Either
way the facts come from one extraction, so strict and lenient paths cannot
disagree about what a field means.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from githubkit.webhooks import parse_obj
from pydantic import ValidationError

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
from controltower.domain.timestamps import parse_timestamp

Fact = (
    RunFact | JobDeliveryFact | DeploymentFact | DeploymentStatusFact | PushFact | PullRequestFact
)

_F = TypeVar(
    "_F", RunFact, JobFact, DeploymentFact, DeploymentStatusFact, PushFact, PullRequestFact
)

HANDLED_EVENTS = frozenset(
    {
        "workflow_run",
        "workflow_job",
        "deployment",
        "deployment_status",
        "push",
        "pull_request",
        "ping",
    }
)


@dataclass(frozen=True)
class Normalized:
    """What a delivery amounts to: its facts, how it was parsed, and why if not strictly."""

    facts: list[Fact] = field(default_factory=list)
    parse: str | None = None
    note: str | None = None
    ignored: bool = False


def _stamped(fact: _F, status: str | None, updated: datetime | None) -> _F:
    """``fact`` with its snapshot key: stage, update time and a digest of all its content."""
    return dataclasses.replace(fact, snapshot=snapshot_key(status, updated, digest(fact)))


def normalize(event: str, payload: Mapping[str, Any]) -> Normalized:
    """Turn one delivery into facts; events controltower does not use come back ``ignored``."""
    if event not in HANDLED_EVENTS:
        return Normalized(ignored=True, note=f"event {event!r} is not used")
    parse, note = _validate(event, payload)
    if event == "ping":
        return Normalized(parse=parse, note=note)
    facts = _EXTRACTORS[event](payload)
    return Normalized(facts=facts, parse=parse, note=note)


def _validate(event: str, payload: Mapping[str, Any]) -> tuple[str, str | None]:
    try:
        parse_obj(event, payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][:6])
        return (
            "lenient",
            f"{exc.error_count()} field(s) failed strict parsing; first: {where}: {first['msg']}",
        )
    return "strict", None


def _get(obj: Mapping[str, Any] | None, *path: str) -> Any:
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _labels(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


def _repository(payload: Mapping[str, Any]) -> str:
    name = _get(payload, "repository", "full_name")
    if not isinstance(name, str) or not name:
        raise ValueError("payload has no repository.full_name")
    return name


def _runner_os(labels: tuple[str, ...]) -> str | None:
    joined = " ".join(labels).lower()
    for needle, name in (
        ("windows", "windows"),
        ("macos", "macos"),
        ("ubuntu", "linux"),
        ("linux", "linux"),
    ):
        if needle in joined:
            return name
    return None


def _workflow_run(payload: Mapping[str, Any]) -> list[Fact]:
    run = _get(payload, "workflow_run") or {}
    workflow = _get(payload, "workflow") or {}
    return [run_fact(_repository(payload), run, workflow, source="webhook")]


def run_fact(
    repository: str,
    run: Mapping[str, Any],
    workflow: Mapping[str, Any] | None = None,
    source: str = "api",
) -> RunFact:
    """The fact for one run attempt as GitHub describes it, in a webhook or the REST API.

    Webhooks and the API describe a run with the same object, so both paths
    share this extraction; the snapshot's digest leaves ``source`` out, so the
    same attempt at the same moment is the same snapshot whichever way it came.
    """
    prs = run.get("pull_requests") or []
    updated = parse_timestamp(run.get("updated_at"))
    status = run.get("status") or "requested"
    workflow = workflow or {}
    name = workflow.get("name") or run.get("name") or run.get("path") or "default"
    completed = updated if status == "completed" else None
    started = parse_timestamp(run.get("run_started_at"))
    fact = RunFact(
        repository=repository,
        run_id=str(run["id"]),
        attempt=_int(run.get("run_attempt")) or 1,
        run_number=_int(run.get("run_number")),
        workflow=str(name),
        workflow_path=_str(run.get("path") or workflow.get("path")),
        workflow_github_id=_int(run.get("workflow_id")),
        event=_str(run.get("event")),
        branch=_str(run.get("head_branch")),
        head_sha=_str(run.get("head_sha")),
        actor=_str(_get(run, "triggering_actor", "login") or _get(run, "actor", "login")),
        pull_request=_int(prs[0].get("number")) if prs and isinstance(prs[0], Mapping) else None,
        status=str(status),
        conclusion=_str(run.get("conclusion")) if status == "completed" else None,
        created_at=parse_timestamp(run.get("created_at")),
        started_at=started,
        completed_at=completed,
        updated_at=updated,
        duration_s=(completed - started).total_seconds() if completed and started else None,
        source=source,
    )
    digested = digest(dataclasses.replace(fact, source=""))
    return dataclasses.replace(fact, snapshot=snapshot_key(status, updated, digested))


def _steps(raw: Any) -> tuple[StepFact, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        StepFact(
            number=int(step["number"]),
            name=str(step.get("name") or f"step {step['number']}"),
            status=_str(step.get("status")),
            conclusion=_str(step.get("conclusion")),
            started_at=parse_timestamp(step.get("started_at")),
            completed_at=parse_timestamp(step.get("completed_at")),
        )
        for step in raw
        if isinstance(step, Mapping) and _int(step.get("number")) is not None
    )


def _workflow_job(payload: Mapping[str, Any]) -> list[Fact]:
    return [job_fact(_repository(payload), _get(payload, "workflow_job") or {})]


def job_fact(repository: str, job: Mapping[str, Any]) -> JobDeliveryFact:
    """The fact for one job as GitHub describes it, in a webhook or the REST API."""
    status = job.get("status") or "queued"
    labels = _labels(job.get("labels"))
    stamp = parse_timestamp(job.get("completed_at")) or parse_timestamp(job.get("started_at"))
    fact = JobFact(
        key=str(job["id"]),
        job_id=str(job["id"]),
        name=str(job.get("name") or job["id"]),
        status=str(status),
        conclusion=_str(job.get("conclusion")) if status == "completed" else None,
        created_at=parse_timestamp(job.get("created_at")),
        started_at=parse_timestamp(job.get("started_at")),
        completed_at=parse_timestamp(job.get("completed_at")) if status == "completed" else None,
        runner_os=_runner_os(labels),
        runner_labels=labels,
        runner_name=_str(job.get("runner_name")),
        runner_group=_str(job.get("runner_group_name")),
        steps=_steps(job.get("steps")),
    )
    return JobDeliveryFact(
        repository=repository,
        run_id=str(job["run_id"]),
        attempt=_int(job.get("run_attempt")) or 1,
        workflow=str(job.get("workflow_name") or "default"),
        branch=_str(job.get("head_branch")),
        head_sha=_str(job.get("head_sha")),
        job=_stamped(fact, status, stamp),
    )


def _deployment_fact(payload: Mapping[str, Any]) -> DeploymentFact:
    dep = _get(payload, "deployment") or {}
    updated = parse_timestamp(dep.get("updated_at"))
    fact = DeploymentFact(
        repository=_repository(payload),
        deployment_id=str(dep["id"]),
        sha=_str(dep.get("sha")),
        ref=_str(dep.get("ref")),
        task=_str(dep.get("task")),
        environment=_str(dep.get("environment")),
        creator=_str(_get(dep, "creator", "login")),
        description=_str(dep.get("description")),
        production=dep.get("production_environment"),
        transient=dep.get("transient_environment"),
        run_id=_str(_get(payload, "workflow_run", "id")),
        created_at=parse_timestamp(dep.get("created_at")),
        updated_at=updated,
    )
    return _stamped(fact, "completed", updated)


def _deployment(payload: Mapping[str, Any]) -> list[Fact]:
    return [_deployment_fact(payload)]


def _deployment_status(payload: Mapping[str, Any]) -> list[Fact]:
    status = _get(payload, "deployment_status") or {}
    updated = parse_timestamp(status.get("updated_at"))
    fact = DeploymentStatusFact(
        deployment=_deployment_fact(payload),
        status_id=str(status["id"]),
        state=str(status.get("state") or "unknown"),
        environment=_str(status.get("environment")),
        description=_str(status.get("description")),
        creator=_str(_get(status, "creator", "login")),
        log_url=_str(status.get("log_url") or status.get("target_url")) or None,
        environment_url=_str(status.get("environment_url")) or None,
        created_at=parse_timestamp(status.get("created_at")),
        updated_at=updated,
    )
    return [_stamped(fact, "completed", updated)]


def _push(payload: Mapping[str, Any]) -> list[Fact]:
    commits = [c for c in payload.get("commits") or [] if isinstance(c, Mapping)]
    stamps = [t for c in commits if (t := parse_timestamp(c.get("timestamp"))) is not None]
    head_at = parse_timestamp(_get(payload, "head_commit", "timestamp"))
    fact = PushFact(
        repository=_repository(payload),
        ref=str(payload["ref"]),
        before=str(payload.get("before") or ""),
        after=str(payload.get("after") or ""),
        pusher=_str(_get(payload, "pusher", "name")),
        commits=len(commits),
        distinct_commits=sum(1 for c in commits if c.get("distinct", True)),
        created=bool(payload.get("created")),
        deleted=bool(payload.get("deleted")),
        forced=bool(payload.get("forced")),
        first_commit_at=min(stamps) if stamps else None,
        head_commit_at=head_at,
        workflow_files=_workflow_files(commits),
    )
    return [_stamped(fact, "completed", head_at)]


WORKFLOWS_DIR = ".github/workflows/"


def _workflow_files(commits: list[Mapping[str, Any]]) -> tuple[str, ...]:
    """The workflow files the commits of a push added, modified or removed, in order."""
    paths = {
        str(path)
        for commit in commits
        for change in ("added", "modified", "removed")
        for path in commit.get(change) or []
        if str(path).startswith(WORKFLOWS_DIR)
    }
    return tuple(sorted(paths))


def _pull_request(payload: Mapping[str, Any]) -> list[Fact]:
    pr = _get(payload, "pull_request") or {}
    updated = parse_timestamp(pr.get("updated_at"))
    fact = PullRequestFact(
        repository=_repository(payload),
        number=int(pr.get("number") or payload["number"]),
        state=str(pr.get("state") or "open"),
        title=_str(pr.get("title")),
        author=_str(_get(pr, "user", "login")),
        head_ref=_str(_get(pr, "head", "ref")),
        head_sha=_str(_get(pr, "head", "sha")),
        base_ref=_str(_get(pr, "base", "ref")),
        draft=pr.get("draft"),
        merged=pr.get("merged"),
        additions=_int(pr.get("additions")),
        deletions=_int(pr.get("deletions")),
        changed_files=_int(pr.get("changed_files")),
        commits=_int(pr.get("commits")),
        created_at=parse_timestamp(pr.get("created_at")),
        updated_at=updated,
        closed_at=parse_timestamp(pr.get("closed_at")),
        merged_at=parse_timestamp(pr.get("merged_at")),
    )
    return [_stamped(fact, "completed", updated)]


_EXTRACTORS: dict[str, Callable[[Mapping[str, Any]], list[Fact]]] = {
    "workflow_run": _workflow_run,
    "workflow_job": _workflow_job,
    "deployment": _deployment,
    "deployment_status": _deployment_status,
    "push": _push,
    "pull_request": _pull_request,
}
