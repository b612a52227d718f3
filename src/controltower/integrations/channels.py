"""Sending a message to a channel URL once: PagerDuty Events v2 and Slack natively, else apprise.

Two schemes are sent by controltower itself (with httpx), because apprise's
plugins post to fixed hosts and send PagerDuty ``resolve`` only with a
deduplication key fixed in the URL:

- ``pagerduty-events://ROUTING_KEY[?region=eu][&endpoint=URL][&timeout=S]``
  posts an Events API v2 event to ``{endpoint}/v2/enqueue`` (by default
  ``https://events.pagerduty.com``, or the EU host): ``trigger`` when an alert
  fires and ``resolve`` when it clears, both with the alert's key as
  ``dedup_key``, so the resolve closes the incident the trigger opened.
- ``slack-webhook://T…/B…/X…[?endpoint=URL][&timeout=S]`` posts ``{"text": …}``
  to the incoming webhook ``{endpoint}/T…/B…/X…`` (by default
  ``https://hooks.slack.com/services``).

Every other URL goes through apprise. A send answers ``Sent``: accepted or
not, whether trying again is pointless (a 4xx other than 408/429), and how
long the receiver asked to wait (``Retry-After``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import structlog

from controltower.integrations.alert_messages import Message

log = structlog.get_logger(__name__)
PAGERDUTY_HOSTS = {"us": "https://events.pagerduty.com", "eu": "https://events.eu.pagerduty.com"}
SLACK_HOOKS = "https://hooks.slack.com/services"
NATIVE = frozenset({"pagerduty-events", "slack-webhook"})
# Per attempt: a receiver slower than this is retried later rather than waited for.
DEFAULT_TIMEOUT_S = 5.0
RETRYABLE_4XX = frozenset({408, 429})
# apprise's notify types by severity (its ``NotifyType`` values). apprise itself is loaded
# only to send: health and the outbox name channels without its plugins.
NOTIFY_TYPES = {"critical": "failure", "warning": "warning", "info": "info"}


@dataclass(frozen=True, slots=True)
class Sent:
    """What one attempt came to."""

    accepted: bool
    permanent: bool = False
    retry_after_s: float | None = None
    error: str | None = None


def scheme_of(url: str) -> str:
    """The URL's scheme: the only part of a channel URL ever logged or stored."""
    return url.split(":", 1)[0].lower()


def target_of(url: str) -> str:
    """A digest naming ``url`` where it is stored (the outbox), since the URL holds secrets."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def per_alert(url: str) -> bool:
    """Whether the channel keeps one event per alert (PagerDuty: one incident per dedup_key)."""
    return scheme_of(url) == "pagerduty-events"


def send(url: str, message: Message, client: httpx.Client) -> Sent:
    """Send ``message`` once to ``url`` (natively with ``client``, else through apprise)."""
    scheme = scheme_of(url)
    if scheme == "pagerduty-events":
        return _pagerduty(client, url, message)
    if scheme == "slack-webhook":
        return _slack(client, url, message)
    return _apprise(url, message)


def dedup_key(alert_key: str) -> str:
    """The PagerDuty dedup_key of an alert: its key, or a digest of keys over 255 characters."""
    if len(alert_key) <= 255:
        return alert_key
    return "controltower-" + hashlib.sha256(alert_key.encode()).hexdigest()


def pagerduty_event(routing_key: str, message: Message) -> dict[str, Any]:
    """The Events API v2 body for a one-notification message."""
    n = message.notifications[0]
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if n.event == "resolved" else "trigger",
        "dedup_key": dedup_key(n.key),
    }
    if n.event == "firing":
        event["payload"] = {
            "summary": n.label[:1024],
            "source": "controltower",
            "severity": n.severity if n.severity in ("critical", "warning", "info") else "error",
            "timestamp": n.since.isoformat(),
            "component": n.repository or "controltower",
            "group": n.kind,
            "custom_details": {"detail": n.detail, "alert": n.key, "alert_id": n.alert_id},
        }
        if n.link:
            event["links"] = [{"href": n.link, "text": f"alert #{n.alert_id} on controltower"}]
    return event


def _options(url: str) -> tuple[str, str, dict[str, str]]:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return parts.netloc, parts.path, query


def _timeout(query: dict[str, str]) -> float:
    return float(query.get("timeout", DEFAULT_TIMEOUT_S))


def timeout_of(url: str) -> float:
    """How long one attempt to ``url`` may wait for its receiver, in seconds (apprise's
    URLs: the default)."""
    if scheme_of(url) not in NATIVE:
        return DEFAULT_TIMEOUT_S
    return _timeout(_options(url)[2])


def _pagerduty(client: httpx.Client, url: str, message: Message) -> Sent:
    routing_key, _, query = _options(url)
    region = query.get("region", "us").lower()
    base = query.get("endpoint") or PAGERDUTY_HOSTS.get(region, PAGERDUTY_HOSTS["us"])
    body = pagerduty_event(routing_key, message)
    return _post(client, f"{base.rstrip('/')}/v2/enqueue", body, _timeout(query), (202,))


def _slack(client: httpx.Client, url: str, message: Message) -> Sent:
    team, path, query = _options(url)
    base = query.get("endpoint") or SLACK_HOOKS
    target = f"{base.rstrip('/')}/{team}{path}"
    return _post(client, target, {"text": message.text}, _timeout(query), (200,))


def _post(
    client: httpx.Client, target: str, body: dict[str, Any], timeout_s: float, ok: tuple[int, ...]
) -> Sent:
    try:
        response = client.post(target, json=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Sent(False, error=f"{type(exc).__name__}: {exc}"[:500])
    if response.status_code in ok:
        return Sent(True)
    status = response.status_code
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    error = f"HTTP {status}: {response.text[:200]}"
    return Sent(False, permanent, retry_after(response.headers.get("Retry-After")), error)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def warm_apprise() -> None:
    """Load apprise's plugins now (its first use in a process takes a second or more)."""
    import apprise  # noqa: PLC0415 (only to send)

    apprise.Apprise().add("json://localhost")


def _apprise(url: str, message: Message) -> Sent:
    import apprise  # noqa: PLC0415 (only to send)

    sender = apprise.Apprise()
    if not sender.add(url):
        return Sent(False, permanent=True, error=f"URL not understood ({scheme_of(url)})")
    try:
        accepted = bool(
            sender.notify(
                body=message.text,
                title=message.title,
                notify_type=apprise.NotifyType(NOTIFY_TYPES.get(message.severity, "info")),
            )
        )
    except Exception as exc:  # noqa: BLE001 (a plugin's failure is a failed send, retried)
        return Sent(False, error=repr(exc)[:500])
    return Sent(True) if accepted else Sent(False, error="apprise: not accepted")
