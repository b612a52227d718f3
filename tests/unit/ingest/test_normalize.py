"""Normalizing real payload examples into facts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controltower.domain import (
    DeploymentFact,
    DeploymentStatusFact,
    JobDeliveryFact,
    PullRequestFact,
    PushFact,
    RunFact,
)
from controltower.ingest.normalize import normalize
from tests.support.paths import EXAMPLES, example_files

KINDS = {
    "workflow_run": RunFact,
    "workflow_job": JobDeliveryFact,
    "deployment": DeploymentFact,
    "deployment_status": DeploymentStatusFact,
    "push": PushFact,
    "pull_request": PullRequestFact,
}


@pytest.mark.parametrize("path", example_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_real_example_normalizes_to_its_fact(path: Path) -> None:
    """Each example of a handled event gives exactly its fact, parsed strictly or with a reason."""
    event = path.parent.name
    result = normalize(event, json.loads(path.read_text()))
    assert not result.ignored
    assert result.parse in ("strict", "lenient")
    assert (result.parse == "lenient") == (result.note is not None)
    if event == "ping":
        assert result.facts == []
    else:
        assert [type(f) for f in result.facts] == [KINDS[event]]


def test_completed_job_carries_steps_runner_and_times() -> None:
    """A completed workflow_job keeps its steps, labels, runner and conclusion."""
    payload = json.loads(
        (EXAMPLES / "workflow_job" / "completed.failure.with-organization.payload.json").read_text()
    )
    (fact,) = normalize("workflow_job", payload).facts
    assert isinstance(fact, JobDeliveryFact)
    assert (fact.repository, fact.run_id, fact.attempt) == (
        "Codertocat/Hello-World",
        "2202229078",
        1,
    )
    assert fact.job.conclusion == "failure"
    assert fact.job.runner_labels == ("ubuntu-latest",)
    assert fact.job.runner_os == "linux"
    assert len(fact.job.steps) == 12
    assert fact.job.completed_at is not None
    assert fact.job.started_at is not None
    assert fact.job.completed_at > fact.job.started_at


def test_queued_run_has_no_conclusion_even_if_payload_sends_one() -> None:
    """Only completed snapshots carry a conclusion; a queued run's stays empty."""
    payload = json.loads((EXAMPLES / "workflow_run" / "requested.payload.json").read_text())
    (fact,) = normalize("workflow_run", payload).facts
    assert isinstance(fact, RunFact)
    assert fact.status == "queued"
    assert fact.conclusion is None
    assert fact.completed_at is None


def test_payload_failing_strict_parsing_is_kept_with_the_reason() -> None:
    """A payload githubkit's models refuse is still normalized, leniently, and says why."""
    payload = json.loads((EXAMPLES / "workflow_run" / "completed.payload.json").read_text())
    payload["workflow_run"]["run_attempt"] = "one"  # wrong type: strict parsing fails
    result = normalize("workflow_run", payload)
    assert result.parse == "lenient"
    assert result.note is not None
    assert "run_attempt" in result.note
    (fact,) = result.facts
    assert isinstance(fact, RunFact)
    assert fact.run_id == "289782451"
    assert fact.attempt == 1


def test_events_we_do_not_use_are_ignored() -> None:
    """A star event is ignored, with a note saying so."""
    result = normalize("star", {"action": "created"})
    assert result.ignored
    assert result.facts == []
    assert result.note is not None


def test_a_push_lists_the_workflow_files_its_commits_changed() -> None:
    """GitHub's example push (one commit adding README.md), with workflow files changed too."""
    payload = json.loads((EXAMPLES / "push" / "with-new-branch.payload.json").read_text())
    [plain] = normalize("push", payload).facts
    assert isinstance(plain, PushFact)
    assert plain.workflow_files == ()
    commit = payload["commits"][0]
    commit["modified"] = [".github/workflows/ci.yml", "src/app.py"]
    commit["removed"] = [".github/workflows/old.yml", ".github/dependabot.yml"]
    payload["commits"].append({**commit, "added": [".github/workflows/ci.yml"], "removed": []})
    [fact] = normalize("push", payload).facts
    assert isinstance(fact, PushFact)
    assert fact.workflow_files == (".github/workflows/ci.yml", ".github/workflows/old.yml")
