"""HTTP receivers on 127.0.0.1 that stand in for PagerDuty's Events API v2 and Slack webhooks.

Each validates requests as the real service does and records what it
accepted; a ``behaviour`` decides each answer by attempt number: accept,
fail with 5xx, refuse with 429 and ``Retry-After``, or hang before answering.
A request in the wrong format is answered 400 (as the services do) and kept
in ``invalid``, so tests can insist on there being none.

- PagerDuty: ``POST /v2/enqueue``, JSON with ``routing_key``,
  ``event_action`` (trigger, acknowledge or resolve), ``dedup_key`` (required
  unless triggering), optional ``links`` (objects with an ``href``), and for
  a trigger ``payload`` with ``summary``,
  ``source`` and ``severity`` (critical, error, warning or info); answers
  202 ``{"status": "success", "dedup_key": …}``.
- Slack incoming webhook: ``POST`` JSON with a non-empty ``text`` (or
  ``blocks``); answers 200 ``ok``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    """How to answer one request: accept, or a status with headers, after an optional hang."""

    status: int | None = None
    retry_after: str | None = None
    hang_s: float = 0.0


ACCEPT = Answer()
Behaviour = Callable[[int], Answer]


def always(answer: Answer) -> Behaviour:
    """Answer every request the same way."""
    return lambda _attempt: answer


def failing_first(times: int, answer: Answer) -> Behaviour:
    """Answer ``answer`` to the first ``times`` requests, then accept."""
    return lambda attempt: answer if attempt <= times else ACCEPT


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording accepted JSON bodies and arrival times."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or always(ACCEPT)
        self.accepted: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self.invalid: list[str] = []
        self.attempts = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def validate(self, path: str, body: Any) -> str | None:
        """Why the request is malformed, or ``None``."""
        raise NotImplementedError

    def success(self, body: dict[str, Any]) -> tuple[int, bytes, str]:
        """Status, body and content type of an accepting answer."""
        raise NotImplementedError

    def _answer(self, path: str, raw: bytes) -> tuple[int, bytes, str, dict[str, str]]:
        with self._lock:
            self.attempts += 1
            self.arrivals.append(time.monotonic())
            attempt = self.attempts
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        problem = self.validate(path, body)
        if problem is not None:
            self.invalid.append(problem)
            return 400, json.dumps({"status": "invalid", "message": problem}).encode(), "json", {}
        answer = self.behaviour(attempt)
        time.sleep(answer.hang_s)
        if answer.status is None:
            self.accepted.append(body)
            return (*self.success(body), {})
        headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
        return answer.status, b"error", "text", headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, body, kind, headers = receiver._answer(self.path, raw)
                self.send_response(status)
                content = "application/json" if kind == "json" else "text/plain"
                self.send_header("Content-Type", content)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


class PagerDutyReceiver(Receiver):
    """PagerDuty's Events API v2 endpoint."""

    ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})
    SEVERITIES = frozenset({"critical", "error", "warning", "info"})

    def url(self, routing_key: str = "R0UT1NGKEY", timeout_s: float = 5.0) -> str:
        """The controltower channel URL that sends here."""
        return f"pagerduty-events://{routing_key}?endpoint={self.base}&timeout={timeout_s}"

    def validate(self, path: str, body: Any) -> str | None:
        """Check the path and the event as PagerDuty does."""
        if path != "/v2/enqueue" or not isinstance(body, dict) or not body.get("routing_key"):
            return f"{path}: a JSON event with routing_key is required"
        action = body.get("event_action")
        if action not in self.ACTIONS:
            return f"event_action {action!r} is not one of {sorted(self.ACTIONS)}"
        dedup = body.get("dedup_key")
        if action != "trigger" and not dedup:
            return "dedup_key is required to acknowledge or resolve"
        if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
            return "dedup_key must be a string of at most 255 characters"
        if action == "trigger":
            return self._links_problem(body.get("links", [])) or self._payload_problem(
                body.get("payload")
            )
        return self._links_problem(body.get("links", []))

    def _links_problem(self, links: Any) -> str | None:
        if not isinstance(links, list) or not all(
            isinstance(link, dict) and isinstance(link.get("href"), str) for link in links
        ):
            return "links must be a list of objects with an href"
        return None

    def _payload_problem(self, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "payload is required to trigger"
        for field in ("summary", "source", "severity"):
            if not payload.get(field):
                return f"payload.{field} is required"
        if len(payload["summary"]) > 1024:
            return "payload.summary is longer than 1024 characters"
        if payload["severity"] not in self.SEVERITIES:
            return f"payload.severity {payload['severity']!r} is invalid"
        return None

    def success(self, body: dict[str, Any]) -> tuple[int, bytes, str]:
        """202 with the event's dedup_key (a new one when a trigger had none)."""
        dedup = body.get("dedup_key") or uuid.uuid4().hex
        answer = {"status": "success", "message": "Event processed", "dedup_key": dedup}
        return 202, json.dumps(answer).encode(), "json"

    def events(self, action: str | None = None) -> list[dict[str, Any]]:
        """Accepted events, of ``action`` if given."""
        return [e for e in self.accepted if action is None or e["event_action"] == action]


class SlackReceiver(Receiver):
    """A Slack incoming webhook (``/services/T…/B…/X…``)."""

    def url(self, hook: str = "T000/B000/XXXX", timeout_s: float = 5.0) -> str:
        """The controltower channel URL that sends here."""
        return f"slack-webhook://{hook}?endpoint={self.base}/services&timeout={timeout_s}"

    def validate(self, path: str, body: Any) -> str | None:
        """Check the path and the message as Slack does."""
        if not path.startswith("/services/") or path.count("/") != 4:
            return f"no_service: {path}"
        if not isinstance(body, dict):
            return "invalid_payload"
        if not (isinstance(body.get("text"), str) and body["text"].strip()) and not body.get(
            "blocks"
        ):
            return "no_text"
        return None

    def success(self, body: dict[str, Any]) -> tuple[int, bytes, str]:
        """200 ``ok``."""
        return 200, b"ok", "text"

    def texts(self) -> list[str]:
        """The text of every accepted message."""
        return [str(b["text"]) for b in self.accepted]
