"""Where the shared data lives: ``../shared`` beside the repository."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
EXAMPLES = SHARED / "fixtures" / "github" / "webhooks" / "examples"
DATASETS = SHARED / "datasets" / "runs"
SIGNATURE_VECTOR = SHARED / "fixtures" / "github" / "webhooks" / "signature-test-vector.json"
HANDLED = (
    "workflow_run",
    "workflow_job",
    "deployment",
    "deployment_status",
    "push",
    "pull_request",
    "ping",
)


def example_files(events: tuple[str, ...] = HANDLED) -> list[Path]:
    """Every real payload example of the given events, in a stable order."""
    return sorted(path for event in events for path in (EXAMPLES / event).glob("*.json"))


def requested_now() -> dict[str, Any]:
    """GitHub's example of a requested run, as if it had been requested a second ago.

    The example dates from 2020; a run GitHub reported queued that long ago cannot be
    going on any more and is not predicted, so tests of prediction on arrival move it
    to now (its start keeps its distance from its creation).
    """
    payload: dict[str, Any] = json.loads(
        (EXAMPLES / "workflow_run" / "requested.payload.json").read_text()
    )
    run = payload["workflow_run"]
    created = datetime.fromisoformat(run["created_at"].replace("Z", "+00:00"))
    shift = datetime.now(UTC) - timedelta(seconds=1) - created
    for key in ("created_at", "run_started_at", "updated_at"):
        if run.get(key):
            moved = datetime.fromisoformat(run[key].replace("Z", "+00:00")) + shift
            run[key] = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    return payload
