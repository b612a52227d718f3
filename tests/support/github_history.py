"""A generated GitHub Actions history, built from the REST examples in the shared fixtures.

Every object the fake server returns is a copy of one of GitHub's own example
responses (``../shared/fixtures/github/rest/``) with the identifying fields
varied: ids, numbers, dates, statuses and conclusions. Runs are spaced evenly
in time; every ``rerun_every``-th run has a second attempt, every
``fail_every``-th attempt fails, and the newest ``in_progress`` runs are not
finished yet.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.paths import SHARED

REST = SHARED / "fixtures" / "github" / "rest"


def example(operation: str, status: str = "200") -> Any:
    """The example body of a documented response of ``operation`` (``tag/name``)."""
    spec = json.loads((REST / f"{operation}.json").read_text())
    content = spec["responses"][status]["content"]["application/json"]
    return next(iter(content["examples"].values()))["value"]


RUN_EXAMPLE: dict[str, Any] = example("actions/get-workflow-run")
JOB_EXAMPLE: dict[str, Any] = example("actions/list-jobs-for-workflow-run")["jobs"][0]
WORKFLOWS_EXAMPLE: list[dict[str, Any]] = example("actions/list-repo-workflows")["workflows"]
RATE_LIMIT_EXAMPLE: dict[str, Any] = example("rate-limit/get")
JOB_NAMES = ("build", "test", "lint")


def stamp(moment: datetime) -> str:
    """GitHub's timestamp form: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeRun:
    """One workflow run: its attempts as the API shows them, and each attempt's jobs."""

    repository: str
    run_id: int
    created_at: datetime
    attempts: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def latest(self) -> dict[str, Any]:
        """The run as listed: its latest attempt."""
        return self.attempts[-1]


@dataclass
class FakeRepository:
    """A repository's workflows and runs, oldest run first."""

    full_name: str
    workflows: list[dict[str, Any]]
    runs: list[FakeRun]

    def run(self, run_id: int) -> FakeRun | None:
        """The run with ``run_id``, if this repository has it."""
        return next((run for run in self.runs if run.run_id == run_id), None)


def workflows_for(full_name: str, base_id: int) -> list[dict[str, Any]]:
    """The example's workflows, renumbered and pointed at ``full_name``."""
    workflows = []
    for n, original in enumerate(WORKFLOWS_EXAMPLE):
        workflow = copy.deepcopy(original)
        workflow["id"] = base_id + n
        workflow["url"] = (
            f"https://api.github.com/repos/{full_name}/actions/workflows/{base_id + n}"
        )
        workflows.append(workflow)
    return workflows


def _attempt(
    full_name: str,
    workflow: dict[str, Any],
    run_id: int,
    number: int,
    attempt: int,
    created: datetime,
    outcome: tuple[str, str | None],
) -> dict[str, Any]:
    run = copy.deepcopy(RUN_EXAMPLE)
    started = created + timedelta(minutes=(attempt - 1) * 30, seconds=5)
    status, conclusion = outcome
    run.update(
        id=run_id,
        name=workflow["name"],
        path=workflow["path"],
        workflow_id=workflow["id"],
        run_number=number,
        run_attempt=attempt,
        head_sha=f"{run_id:040x}"[-40:],
        display_title=f"Change {number}",
        status=status,
        conclusion=conclusion,
        created_at=stamp(created),
        run_started_at=stamp(started),
        updated_at=stamp(started + timedelta(minutes=4 if status == "completed" else 1)),
        url=f"https://api.github.com/repos/{full_name}/actions/runs/{run_id}",
        html_url=f"https://github.com/{full_name}/actions/runs/{run_id}",
    )
    run["repository"] = {**run["repository"], "full_name": full_name}
    return run


def _jobs(run: dict[str, Any], first_job_id: int) -> list[dict[str, Any]]:
    jobs = []
    started = datetime.fromisoformat(run["run_started_at"].replace("Z", "+00:00"))
    for n, name in enumerate(JOB_NAMES):
        job = copy.deepcopy(JOB_EXAMPLE)
        begin = started + timedelta(seconds=10 + n)
        end = begin + timedelta(minutes=3)
        done = run["status"] == "completed"
        failed = done and run["conclusion"] == "failure" and name == "test"
        job.update(
            id=first_job_id + n,
            run_id=run["id"],
            run_attempt=run["run_attempt"],
            name=name,
            workflow_name=run["name"],
            head_sha=run["head_sha"],
            status="completed" if done else "in_progress",
            conclusion=("failure" if failed else "success") if done else None,
            created_at=stamp(begin - timedelta(seconds=5)),
            started_at=stamp(begin),
            completed_at=stamp(end) if done else None,
            labels=["ubuntu-latest"],
        )
        job["steps"] = [
            {
                "name": step["name"],
                "status": "completed" if done else "in_progress",
                "conclusion": job["conclusion"],
                "number": step["number"],
                "started_at": stamp(begin + timedelta(seconds=i)),
                "completed_at": stamp(begin + timedelta(seconds=i + 1)) if done else None,
            }
            for i, step in enumerate(JOB_EXAMPLE["steps"][:3])
        ]
        jobs.append(job)
    return jobs


def generate(
    full_name: str = "octo-org/octo-repo",
    *,
    runs: int = 20,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    spacing: timedelta = timedelta(minutes=7),
    rerun_every: int = 5,
    fail_every: int = 4,
    in_progress: int = 0,
    first_run_id: int = 30_000_000,
) -> FakeRepository:
    """A repository with ``runs`` runs created ``spacing`` apart from ``start``."""
    workflows = workflows_for(full_name, first_run_id // 1000)
    history = []
    for n in range(runs):
        run_id = first_run_id + n
        created = start + n * spacing
        workflow = workflows[n % len(workflows)]
        count = 2 if rerun_every and n % rerun_every == rerun_every - 1 else 1
        run = FakeRun(full_name, run_id, created)
        for attempt in range(1, count + 1):
            unfinished = n >= runs - in_progress and attempt == count
            failed = fail_every and (n + attempt) % fail_every == 0 and attempt < count + 1
            outcome = (
                ("in_progress", None)
                if unfinished
                else (
                    "completed",
                    "failure" if failed else "success",
                )
            )
            obj = _attempt(full_name, workflow, run_id, n + 1, attempt, created, outcome)
            run.attempts.append(obj)
            run.jobs.append(_jobs(obj, run_id * 10 + attempt * 3))
        history.append(run)
    return FakeRepository(full_name, workflows, history)


def finish(run: FakeRun, conclusion: str = "success") -> None:
    """Complete a run's latest attempt (and its jobs), as GitHub would report it later."""
    latest = run.latest
    started = datetime.fromisoformat(latest["run_started_at"].replace("Z", "+00:00"))
    latest.update(
        status="completed",
        conclusion=conclusion,
        updated_at=stamp(started + timedelta(minutes=4)),
    )
    run.jobs[-1] = _jobs(latest, int(run.jobs[-1][0]["id"]))
