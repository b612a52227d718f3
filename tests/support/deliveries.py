"""Building signed deliveries from the real payload examples."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime
from typing import Any

import orjson

from controltower.ingest.signature import signature_for
from tests.support.paths import EXAMPLES

RUN_EXAMPLE = json.loads((EXAMPLES / "workflow_run" / "completed.payload.json").read_text())


def workflow_run_payload(run_id: int) -> dict[str, Any]:
    """The real completed workflow_run example, renumbered to ``run_id``."""
    payload: dict[str, Any] = copy.deepcopy(RUN_EXAMPLE)
    payload["workflow_run"]["id"] = run_id
    return payload


def signed(
    event: str, payload: dict[str, Any], secret: str, guid: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a delivery as GitHub sends it."""
    body = orjson.dumps(payload)
    return body, {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid or str(uuid.uuid4()),
        "X-Hub-Signature-256": signature_for(secret, body),
    }


def run_outcome_payload(
    run_id: int, conclusion: str, created_at: datetime, workflow: str = "CI"
) -> dict[str, Any]:
    """The real completed workflow_run example as run ``run_id`` of ``workflow`` on master.

    Its conclusion and times are set, so a failure after a pass (or a pass
    after a failure) on the default branch starts (or ends) a failing streak.
    """
    payload = workflow_run_payload(run_id)
    run = payload["workflow_run"]
    stamp = created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    run.update(
        name=workflow,
        conclusion=conclusion,
        head_branch="master",
        created_at=stamp,
        updated_at=stamp,
        run_started_at=stamp,
        run_number=run_id % 100_000,
    )
    payload["workflow"] = {**payload.get("workflow", {}), "name": workflow}
    return payload
