"""Alert notifications and the messages that carry them: grouping, and the text people read.

A ``Notification`` is one alert starting to fire (or growing worse) or
resolving. Notifications of one evaluation that share a group (``group_by``:
the repository by default, or the kind, the severity, or nothing) and go to
the same URL travel as one ``Message`` listing them, one line each, unless the
channel keeps one event per alert (PagerDuty: an incident per ``dedup_key``),
where each notification is a message of its own. Pure: no I/O.

The kind is the first part of the alert key (``telemetry.alerts.alert_key``);
the repository is carried by the notification itself, since keys differ in
shape (a metric rule's names the rule before the repository, and the
installation's own problems have none).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from controltower.domain.wording import counted

GroupBy = Literal["repository", "kind", "severity", "none"]
INSTALLATION = "controltower"
# What a resolve says cleared, by kind: the condition without the figures it had.
CONDITIONS = {
    "ingest-backlog": "delivery backlog",
    "ingest-failed": "failed deliveries",
    "ingest-quiet": "quiet webhooks",
    "failing-branch": "failing workflow",
    "data-completeness": "missed webhook deliveries",
    "anomaly": "anomaly",
    "model-accuracy": "model accuracy",
    "metric": "metric alert",
}


@dataclass(frozen=True, slots=True)
class Notification:
    """An alert starting to fire (or growing worse), or resolving.

    ``fact_at`` is when the fact behind it arrived (``fact_source``
    ``delivery``) or was detected (``detection``); it is set by whoever
    evaluated the rules, for measuring latency. ``routes`` are the severities
    whose routes it goes to, when not only its own: a resolve goes wherever
    the alert's firing was notified. ``repository`` is the alert's, if it has one.
    ``alert_id`` is the stored alert's id, and ``link`` the alert on the
    dashboard's ``/alerts`` page when the dashboard's public URL is known.
    ``group`` names a cause it shares with alerts of other repositories (an
    anomaly they show at once): grouped at all, they travel together under it.
    """

    key: str
    event: Literal["firing", "resolved"]
    severity: str
    title: str
    detail: str
    since: datetime
    fact_at: datetime | None = None
    fact_source: str = "detection"
    routes: tuple[str, ...] = ()
    repository: str | None = None
    alert_id: int | None = None
    link: str | None = None
    group: str | None = None

    @property
    def head(self) -> str:
        """``RESOLVED`` or the severity in capitals."""
        return "RESOLVED" if self.event == "resolved" else self.severity.upper()

    @property
    def label(self) -> str:
        """The title, led by the repository unless the title already names it."""
        if self.repository and self.repository not in self.title:
            return f"{self.repository} · {self.title}"
        return self.title

    @property
    def line(self) -> str:
        """One line: the severity and what fires, or what cleared and what it was."""
        if self.event == "resolved":
            where = f" in {self.repository}" if self.repository else ""
            what = CONDITIONS.get(self.kind, self.kind)
            return f"RESOLVED: {what}{where} cleared (was: {self.title})"
        return f"{self.head}: {self.label}"

    @property
    def reference(self) -> str:
        """Which alert: ``alert #ID`` and its link, or '' when it has no id."""
        if self.alert_id is None:
            return ""
        return f"alert #{self.alert_id}" + (f": {self.link}" if self.link else "")

    @property
    def text(self) -> str:
        """The message as a person reads it in a chat or a page: the line, the detail, and
        which alert it is (with its link on the dashboard)."""
        reference = self.reference
        return f"{self.line}\n{self.detail}" + (
            f"\n{reference[0].upper()}{reference[1:]}" if reference else ""
        )

    @property
    def kind(self) -> str:
        """The problem kind, the first part of the key."""
        return self.key.split("|", 1)[0]


@dataclass(frozen=True, slots=True)
class Message:
    """One send to one URL: a single notification, or a group of them listed one per line."""

    notifications: tuple[Notification, ...]
    group: str = ""

    @property
    def title(self) -> str:
        """A heading for channels that have one."""
        if len(self.notifications) == 1:
            n = self.notifications[0]
            return f"controltower: {'resolved: ' if n.event == 'resolved' else ''}{n.label}"
        return f"controltower: {self.heading}"

    @property
    def heading(self) -> str:
        """How many alerts, and the group they share."""
        return f"{counted(len(self.notifications), 'alert')} ({self.group or INSTALLATION})"

    @property
    def text(self) -> str:
        """The body: the notification's text, or one line per notification of the group."""
        if len(self.notifications) == 1:
            return self.notifications[0].text
        lines = (
            f"• {n.line}" + (f" ({n.reference})" if n.reference else "") for n in self.notifications
        )
        return "\n".join([self.heading, *lines])

    @property
    def severity(self) -> str:
        """The worst severity among the notifications still firing (else the first's)."""
        order = {"critical": 0, "warning": 1, "info": 2}
        firing = [n.severity for n in self.notifications if n.event == "firing"]
        return min(firing or [self.notifications[0].severity], key=lambda s: order.get(s, 3))


def group_of(notification: Notification, group_by: GroupBy) -> str:
    """The group ``notification`` belongs to under ``group_by`` ('' for none); a cause shared
    across repositories (``Notification.group``) groups its alerts under any grouping."""
    if notification.group and group_by != "none":
        return notification.group
    if group_by == "repository":
        return notification.repository or ""
    if group_by == "kind":
        return notification.kind
    if group_by == "severity":
        return notification.severity
    return notification.key


def messages_for(
    notifications: Sequence[Notification],
    urls_of: Callable[[str], Sequence[str]],
    group_by: GroupBy,
    per_alert: Callable[[str], bool],
) -> list[tuple[str, Message]]:
    """The (URL, message) pairs to send: grouped per URL, one per alert where ``per_alert(url)``.

    A notification goes to the URLs of each severity in its ``routes`` (else of its
    own severity), to each URL once.
    """
    buckets: dict[tuple[str, str], list[Notification]] = {}
    out: list[tuple[str, Message]] = []
    for notification in notifications:
        group = group_of(notification, group_by)
        severities = notification.routes or (notification.severity,)
        for url in dict.fromkeys(url for s in severities for url in urls_of(s)):
            if per_alert(url):
                out.append((url, Message((notification,), group)))
            else:
                buckets.setdefault((url, group), []).append(notification)
    out.extend((url, Message(tuple(ns), group)) for (url, group), ns in buckets.items())
    return out


def alert_link(public_url: str | None, alert_id: int | None) -> str | None:
    """The alert on the dashboard's ``/alerts`` page, when the dashboard's URL is known."""
    if not public_url or alert_id is None:
        return None
    return f"{public_url.rstrip('/')}/alerts#alert-{alert_id}"


def message_document(message: Message) -> dict[str, Any]:
    """``message`` as JSON-ready data, to be kept until it is delivered."""
    return {
        "group": message.group,
        "notifications": [
            {
                "key": n.key,
                "event": n.event,
                "severity": n.severity,
                "title": n.title,
                "detail": n.detail,
                "since": n.since.isoformat(),
                "fact_at": n.fact_at.isoformat() if n.fact_at else None,
                "fact_source": n.fact_source,
                "routes": list(n.routes),
                "repository": n.repository,
                "alert_id": n.alert_id,
                "link": n.link,
                "group": n.group,
            }
            for n in message.notifications
        ],
    }


def message_of(document: dict[str, Any]) -> Message:
    """The message ``message_document`` made ``document`` of."""
    notifications = tuple(
        Notification(
            key=n["key"],
            event=n["event"],
            severity=n["severity"],
            title=n["title"],
            detail=n["detail"],
            since=datetime.fromisoformat(n["since"]),
            fact_at=datetime.fromisoformat(n["fact_at"]) if n.get("fact_at") else None,
            fact_source=n.get("fact_source", "detection"),
            routes=tuple(n.get("routes") or ()),
            repository=n.get("repository"),
            alert_id=n.get("alert_id"),
            link=n.get("link"),
            group=n.get("group"),
        )
        for n in document["notifications"]
    )
    return Message(notifications, document.get("group", ""))
