"""``POST /webhooks/github``: verify, store durably, acknowledge; normalization happens later.

Order of checks: size (413, before reading more than the limit), signature
(401), content type (415), headers and JSON (400), payload against event
(400). Only a delivery that passes all of them is stored, and it is answered
202 once committed; the same ``X-GitHub-Delivery`` again is answered 202 too,
marked as a duplicate, and not stored twice.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from controltower.errors import MalformedPayload, PayloadTooLarge
from controltower.ingest.journal import IncomingDelivery
from controltower.ingest.payload import check_event, decode_body, media_type
from controltower.ingest.signature import check_signature
from controltower.web.deps import ContainerDep

router = APIRouter(tags=["webhooks"])
MAX_GUID = 64


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/webhooks/github", status_code=202)
async def receive_github_webhook(request: Request, container: ContainerDep) -> JSONResponse:
    """Receive one GitHub webhook delivery."""
    settings = container.settings
    body = await _read_body(request, settings.ingest.max_body_bytes)
    secret = settings.github.webhook_secret
    if secret is not None:
        check_signature(secret.get_secret_value(), body, request.headers.get("x-hub-signature-256"))
    content_type = request.headers.get("content-type")
    event = request.headers.get("x-github-event", "").strip()
    guid = request.headers.get("x-github-delivery", "").strip()
    payload = decode_body(content_type, body)
    if not event:
        raise MalformedPayload("missing X-GitHub-Event header")
    if not guid or len(guid) > MAX_GUID:
        raise MalformedPayload("missing or overlong X-GitHub-Delivery header")
    check_event(event, payload)
    action = payload.get("action")
    stored = await container.journal.append(
        IncomingDelivery(
            guid=guid,
            event=event,
            action=action if isinstance(action, str) else None,
            hook_id=request.headers.get("x-github-hook-id"),
            content_type=media_type(content_type),
            body=body,
        )
    )
    return JSONResponse(
        {"delivery": guid, "stored": stored.id, "duplicate": stored.duplicate}, status_code=202
    )
