"""Where the shared data lives: ``../shared`` beside the repository."""

from __future__ import annotations

from pathlib import Path

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
