"""Webhook signatures: ``X-Hub-Signature-256`` is ``sha256=`` + hex HMAC-SHA256 of the raw body.

Verification delegates to githubkit, which compares in constant time; this
module insists on the SHA-256 form (githubkit would also accept the legacy
SHA-1 header) and signs payloads for ``controltower replay``.
"""

from __future__ import annotations

from githubkit.webhooks import sign, verify

from controltower.errors import SignatureError

PREFIX = "sha256="


def signature_for(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``."""
    return sign(secret, body, "sha256")


def check_signature(secret: str, body: bytes, header: str | None) -> None:
    """Raise ``SignatureError`` unless ``header`` is the SHA-256 signature of ``body``."""
    if not header:
        raise SignatureError("missing X-Hub-Signature-256 header")
    if not header.startswith(PREFIX) or len(header) != len(PREFIX) + 64:
        raise SignatureError("X-Hub-Signature-256 must be sha256= and 64 hex digits")
    if not verify(secret, body, header):
        raise SignatureError("X-Hub-Signature-256 does not match the body")
