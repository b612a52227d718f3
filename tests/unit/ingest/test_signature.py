"""Webhook signatures: GitHub's published test vector, and refusals."""

from __future__ import annotations

import json

import pytest

from controltower.errors import SignatureError
from controltower.ingest.signature import check_signature, signature_for
from tests.support.paths import SIGNATURE_VECTOR


def test_signature_matches_githubs_published_test_vector() -> None:
    """Signing the documented payload with the documented secret gives the documented header."""
    vector = json.loads(SIGNATURE_VECTOR.read_text())
    header = signature_for(vector["secret"], vector["payload"].encode())
    assert header == vector["X-Hub-Signature-256"]
    check_signature(vector["secret"], vector["payload"].encode(), vector["X-Hub-Signature-256"])


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sha1=0123456789abcdef0123456789abcdef01234567", "sha256="),
        ("sha256=" + "0" * 64, "does not match"),
        ("sha256=abc", "64 hex digits"),
    ],
)
def test_bad_signatures_are_refused_with_a_reason(header: str | None, reason: str) -> None:
    """Missing, legacy, short and wrong signatures all raise SignatureError naming the problem."""
    with pytest.raises(SignatureError, match=reason):
        check_signature("secret", b"{}", header)


def test_signature_of_another_body_is_refused() -> None:
    """A valid signature of one body does not verify a different body."""
    header = signature_for("secret", b'{"a": 1}')
    with pytest.raises(SignatureError):
        check_signature("secret", b'{"a": 2}', header)
