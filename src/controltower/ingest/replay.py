"""Replaying stored webhook payloads to a running endpoint, signed as GitHub signs them.

A directory holds one JSON file per delivery, the event named by the folder
the file is in (``examples/workflow_run/completed.payload.json``). Each
delivery id is derived from the file's content, so replaying the same files
twice is deduplicated by the receiver, as GitHub's redeliveries are.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx

from controltower.ingest.payload import FORM_TYPE, JSON_TYPE
from controltower.ingest.signature import signature_for

_NAMESPACE = uuid.UUID("6f1b7c2e-58a4-4f43-9b51-2b1d3c0e9a10")


@dataclass(frozen=True, slots=True)
class StoredPayload:
    """One file to send: its event, its bytes and its delivery id."""

    path: Path
    event: str
    body: bytes
    guid: str


@dataclass
class ReplayReport:
    """What the endpoint answered, by status code, and the failures."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        """Deliveries answered 2xx."""
        return sum(n for code, n in self.statuses.items() if 200 <= code < 300)


def collect(directory: Path) -> list[StoredPayload]:
    """Every ``*.json`` file under ``directory``, in a stable order."""
    payloads = []
    for path in sorted(directory.rglob("*.json")):
        body = path.read_bytes()
        guid = str(uuid.uuid5(_NAMESPACE, f"{path.parent.name}\0{body.hex()}"))
        payloads.append(StoredPayload(path, path.parent.name, body, guid))
    return payloads


def request_for(payload: StoredPayload, secret: str, *, form: bool) -> tuple[bytes, dict[str, str]]:
    """The body and headers GitHub would send for ``payload``."""
    body = urlencode({"payload": payload.body.decode()}).encode() if form else payload.body
    headers = {
        "Content-Type": FORM_TYPE if form else JSON_TYPE,
        "X-GitHub-Event": payload.event,
        "X-GitHub-Delivery": payload.guid,
        "X-Hub-Signature-256": signature_for(secret, body),
        "User-Agent": "GitHub-Hookshot/controltower-replay",
    }
    return body, headers


async def replay(
    payloads: list[StoredPayload],
    url: str,
    secret: str,
    *,
    form: bool = False,
    concurrency: int = 8,
    transport: httpx.AsyncBaseTransport | None = None,
    on_sent: Callable[[], None] | None = None,
) -> ReplayReport:
    """Send every payload to ``url``, at most ``concurrency`` at a time."""
    report = ReplayReport()
    gate = asyncio.Semaphore(concurrency)

    async def send(client: httpx.AsyncClient, payload: StoredPayload) -> None:
        body, headers = request_for(payload, secret, form=form)
        async with gate:
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                report.failures.append({"file": str(payload.path), "error": repr(exc)})
                return
        report.sent += 1
        report.statuses[response.status_code] += 1
        if not response.is_success:
            report.failures.append(
                {
                    "file": str(payload.path),
                    "error": f"{response.status_code} {response.text[:200]}",
                }
            )
        if on_sent is not None:
            on_sent()

    async with httpx.AsyncClient(timeout=30.0, transport=transport) as client:
        await asyncio.gather(*(send(client, payload) for payload in payloads))
    return report
