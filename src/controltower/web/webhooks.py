"""``POST /webhooks/github``: verify, store durably, acknowledge; normalization happens later.

Order of checks: size (413, before reading more than the limit), signature
(401), content type (415), headers and JSON (400), payload against event
(400). Only a delivery that passes all of them is stored, and it is answered
202 once committed; the same ``X-GitHub-Delivery`` again is answered 202 too,
marked as a duplicate, and not stored twice.

This is the one hot path of the service, so ``WebhookIngress`` serves it as a
plain ASGI endpoint in front of FastAPI (measured: FastAPI's routing and
dependency machinery cost more than everything the endpoint itself does).
The FastAPI route below runs the same ``accept`` and documents the endpoint
in the OpenAPI description.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from controltower.bootstrap import Container
from controltower.errors import IngestError, MalformedPayload, PayloadTooLarge
from controltower.ingest.journal import IncomingDelivery
from controltower.ingest.payload import check_event, decode_body, media_type
from controltower.ingest.signature import check_signature
from controltower.web.deps import ContainerDep
from controltower.web.errors import status_for

PATH = "/webhooks/github"
MAX_GUID = 64
router = APIRouter(tags=["webhooks"])

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def check_length(declared: str | None, limit: int) -> None:
    """Refuse a body whose declared length is over ``limit`` before reading it."""
    if declared is not None and declared.isdecimal() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")


async def accept(container: Container, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Check one delivery and store it durably; ``IngestError`` says why it was refused."""
    secret = container.settings.github.webhook_secret
    if secret is not None:
        check_signature(secret.get_secret_value(), body, headers.get("x-hub-signature-256"))
    content_type = headers.get("content-type")
    event = headers.get("x-github-event", "").strip()
    guid = headers.get("x-github-delivery", "").strip()
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
            hook_id=headers.get("x-github-hook-id"),
            content_type=media_type(content_type),
            body=body,
        )
    )
    return {"delivery": guid, "stored": stored.id, "duplicate": stored.duplicate}


@router.post(PATH, status_code=202)
async def receive_github_webhook(request: Request, container: ContainerDep) -> JSONResponse:
    """Receive one GitHub webhook delivery (JSON or form-encoded ``payload=``)."""
    limit = container.settings.ingest.max_body_bytes
    check_length(request.headers.get("content-length"), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return JSONResponse(await accept(container, request.headers, b"".join(chunks)), 202)


class WebhookIngress:
    """ASGI front: ``POST /webhooks/github`` is served here directly, all else by ``app``."""

    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.container = container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = await self._read(headers, receive)
            status, document = 202, await accept(self.container, headers, body)
        except IngestError as exc:
            status, document = status_for(exc), {"error": type(exc).__name__, "detail": str(exc)}
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": orjson.dumps(document)})

    async def _read(self, headers: Mapping[str, str], receive: Receive) -> bytes:
        limit = self.container.settings.ingest.max_body_bytes
        check_length(headers.get("content-length"), limit)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise MalformedPayload("client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"body is over the {limit}-byte limit")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)
