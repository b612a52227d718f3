"""Decoding delivery bodies: JSON, form-encoded, and what is refused."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from controltower.errors import MalformedPayload, UnsupportedMediaType
from controltower.ingest.payload import check_event, decode_body


def test_json_and_form_bodies_decode_to_the_same_payload() -> None:
    """A form-encoded payload= field carries the same JSON object as a JSON body."""
    raw = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    form = urlencode({"payload": raw.decode()}).encode()
    assert decode_body("application/json", raw) == decode_body(
        "application/x-www-form-urlencoded; charset=utf-8", form
    )


@pytest.mark.parametrize(
    ("content_type", "body", "error"),
    [
        ("application/json", b"{not json", MalformedPayload),
        ("application/json", b"[1, 2]", MalformedPayload),
        ("application/x-www-form-urlencoded", b"other=1", MalformedPayload),
        ("text/plain", b"{}", UnsupportedMediaType),
        (None, b"{}", UnsupportedMediaType),
    ],
)
def test_bad_bodies_are_refused(content_type: str | None, body: bytes, error: type) -> None:
    """Malformed JSON, non-objects, a form without payload= and other types raise clear errors."""
    with pytest.raises(error):
        decode_body(content_type, body)


def test_payload_that_matches_no_event_is_refused() -> None:
    """A workflow_run delivery without a workflow_run object names what is missing."""
    with pytest.raises(MalformedPayload, match="missing workflow_run"):
        check_event("workflow_run", {"repository": {}})
    check_event("star", {"anything": 1})  # events we do not use are not checked
