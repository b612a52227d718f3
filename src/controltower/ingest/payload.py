"""Decoding a delivery's body: JSON or form-encoded with a ``payload=`` field. Pure.

The same decoding runs when a delivery is received (to refuse bad input
before anything is stored) and when it is normalized from the stored raw body.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson

from controltower.errors import MalformedPayload, UnsupportedMediaType

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"

# The object each handled event must carry; a payload without it matches no event.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "workflow_run": ("workflow_run", "repository"),
    "workflow_job": ("workflow_job", "repository"),
    "deployment": ("deployment", "repository"),
    "deployment_status": ("deployment_status", "deployment", "repository"),
    "push": ("ref", "repository"),
    "pull_request": ("pull_request", "repository"),
    "ping": ("zen",),
}


def media_type(content_type: str | None) -> str:
    """The bare media type of a ``Content-Type`` header, lower-cased."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_body(content_type: str | None, body: bytes) -> dict[str, Any]:
    """The delivery's payload as a JSON object; ``MalformedPayload`` or ``UnsupportedMediaType``."""
    kind = media_type(content_type)
    if kind == JSON_TYPE:
        raw = body
    elif kind == FORM_TYPE:
        fields = parse_qs(body.decode("utf-8", errors="strict"), keep_blank_values=True)
        if "payload" not in fields:
            raise MalformedPayload("form-encoded delivery has no payload= field")
        raw = fields["payload"][0].encode()
    else:
        raise UnsupportedMediaType(
            f"content type {kind or '(none)'!r} is not {JSON_TYPE} or {FORM_TYPE}"
        )
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload(f"payload is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MalformedPayload("payload is not a JSON object")
    return payload


def check_event(event: str, payload: dict[str, Any]) -> None:
    """Refuse a payload that lacks what its event must carry (``MalformedPayload``)."""
    missing = [key for key in REQUIRED_KEYS.get(event, ()) if key not in payload]
    if missing:
        raise MalformedPayload(
            f"payload does not match event {event!r}: missing {', '.join(missing)}"
        )
