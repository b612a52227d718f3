"""Alerts delivered through apprise to e-mail and to a Microsoft Teams workflow, each a real
receiver on 127.0.0.1.

E-mail goes to an SMTP server (aiosmtpd) over a plain connection
(``mailto://…?mode=insecure``). A Teams workflow is a Power Automate HTTP
trigger: an HTTPS endpoint at ``/workflows/{id}/triggers/manual/paths/invoke``
that takes an adaptive card as a message attachment, signed by ``sig`` in
the query, and answers 202 Accepted; the receiver here serves it with a
certificate of a test authority (trustme) that the client is told to trust,
so the connection is verified as it is with Microsoft's hosts.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message as Email
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from sqlalchemy import Engine, update

from controltower.config import Settings
from controltower.integrations.channels import warm_apprise
from controltower.integrations.notify import Notifier
from controltower.store.tables import Delivery, table_of
from controltower.telemetry.alerts import evaluate_store
from tests.support.waiting import store_pending, wait_until

deliveries_t = table_of(Delivery)
WORKFLOW, SIGNATURE = "0f1e2d3c4b5a49788796a5b4c3d2e1f0", "s1gNaTuRe"


class Mailbox(MessageHandler):
    """What an SMTP server on 127.0.0.1 received, as parsed e-mails."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Email] = []

    def handle_message(self, message: Email) -> None:
        self.received.append(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    for _ in range(5):  # aiosmtpd takes a port number, not 0: another process may win it
        port = _free_port()
        server = Controller(box, hostname="127.0.0.1", port=port)
        try:
            server.start()
        except OSError:
            continue
        break
    else:
        raise RuntimeError("no free port for the SMTP server")
    yield box, port
    server.stop()


@dataclass
class Workflow:
    """A Power Automate HTTP trigger on 127.0.0.1 over TLS, recording each request."""

    port: int
    requests: list[tuple[str, dict[str, list[str]], dict[str, Any]]] = field(default_factory=list)

    def url(self) -> str:
        return f"workflows://127.0.0.1:{self.port}/{WORKFLOW}/{SIGNATURE}"


@pytest.fixture
def workflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workflow]:
    authority = trustme.CA()
    bundle = tmp_path / "authority.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))  # apprise sends with requests
    recorded: list[tuple[str, dict[str, list[str]], dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            parts = urlsplit(self.path)
            recorded.append((parts.path, parse_qs(parts.query), body))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Workflow(server.server_address[1], recorded)
    server.shutdown()


def _settings(tmp_path: Path, channels: dict[str, list[str]]) -> Settings:
    """A critical backlog at three waiting deliveries, routed to ``channels`` alone."""
    return Settings(
        data_dir=tmp_path,
        queue_url="memory://",
        telemetry={"problems": {"backlog_warning": 2, "backlog_critical": 3}},
        alerts={
            "channels": channels,
            "routes": {"critical": list(channels)},
            "backoff_base_s": 0.1,
        },
    )


def _fire_and_resolve(engine: Engine, settings: Settings, arrived: Callable[[], int]) -> None:
    """A backlog's alert fires and is delivered; once it clears, its resolve too; both arrive
    (``arrived``: how many messages the receiver has)."""
    warm_apprise()  # its plugins load once per process, slowly
    notifier = Notifier(settings.alerts)
    try:
        store_pending(engine, 3)
        firing = evaluate_store(engine, settings)
        assert [(n.event, n.severity) for n in firing] == [("firing", "critical")]
        notifier.deliver(firing[0])
        with engine.begin() as conn:
            conn.execute(update(deliveries_t).values(state="processed"))
        resolved = evaluate_store(engine, settings)
        assert [n.event for n in resolved] == ["resolved"]
        notifier.deliver(resolved[0])
        assert wait_until(lambda: arrived() == 2)
    finally:
        notifier.close()


def test_an_alert_and_its_resolve_arrive_by_e_mail(
    sqlite_engine: Engine, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    """Each is an e-mail from and to the addresses the URL gives, its subject the alert's
    title, its body what it says."""
    box, port = mailbox
    url = f"mailto://127.0.0.1:{port}?from=controltower@example.com&to=oncall@example.com&mode=insecure"
    settings = _settings(tmp_path, {"email": [url]})
    _fire_and_resolve(sqlite_engine, settings, lambda: len(box.received))
    subjects = sorted(str(m["Subject"]) for m in box.received)
    assert subjects[0].startswith("controltower: 3 deliveries waiting")
    assert subjects[1].startswith("controltower: resolved: 3 deliveries waiting")
    for message in box.received:
        assert message["From"] == "controltower@example.com"
        assert message["To"] == "oncall@example.com"
    texts = [_plain(m) for m in box.received]
    assert any(t.startswith("CRITICAL: 3 deliveries waiting") for t in texts)
    assert any(t.startswith("RESOLVED: delivery backlog cleared") for t in texts)


def _plain(message: Email) -> str:
    """The plain-text part of an e-mail."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


def test_an_alert_and_its_resolve_reach_a_teams_workflow_as_adaptive_cards(
    sqlite_engine: Engine, tmp_path: Path, workflow: Workflow
) -> None:
    """Each is posted to the workflow's trigger with its signature over verified TLS: a message
    whose attachment is an adaptive card headed by the alert's title, saying what it says."""
    settings = _settings(tmp_path, {"teams": [workflow.url()]})
    _fire_and_resolve(sqlite_engine, settings, lambda: len(workflow.requests))
    cards = []
    for path, query, body in workflow.requests:
        assert path == f"/workflows/{WORKFLOW}/triggers/manual/paths/invoke"
        assert query["sig"] == [SIGNATURE]
        assert body["type"] == "message"
        (attachment,) = body["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        cards.append(
            {block.get("id"): block.get("text") for block in attachment["content"]["body"]}
        )
    titles = sorted(card["title"] for card in cards)
    assert titles[0].startswith("controltower: 3 deliveries waiting")
    assert titles[1].startswith("controltower: resolved: 3 deliveries waiting")
    assert any(card["body"].startswith("CRITICAL: 3 deliveries waiting") for card in cards)
    assert any(card["body"].startswith("RESOLVED: delivery backlog cleared") for card in cards)
