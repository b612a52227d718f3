"""Building signed deliveries from the real payload examples."""

from __future__ import annotations

import copy
import json
import uuid
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
