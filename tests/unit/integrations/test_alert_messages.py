"""Grouping notifications into messages, and the PagerDuty event and Retry-After rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from controltower.domain.wording import counted
from controltower.integrations import channels
from controltower.integrations.alert_messages import (
    GroupBy,
    Message,
    Notification,
    alert_link,
    group_of,
    message_document,
    message_of,
    messages_for,
)
from controltower.telemetry import activity
from controltower.telemetry.alerts import alert_key

SINCE = datetime(2026, 11, 1, tzinfo=UTC)


def _notification(problem: activity.Problem, event: str = "firing") -> Notification:
    return Notification(
        alert_key(problem),
        event,  # type: ignore[arg-type]
        problem.severity,
        problem.title,
        "d",
        SINCE,
        repository=problem.repository,
    )


BUILD_A = activity.Problem(
    "failing-branch", "critical", "build is failing on main", "", None, "o/a", 1
)
LINT_A = activity.Problem(
    "failing-branch", "warning", "lint is failing on main", "", None, "o/a", 2
)
BUILD_B = activity.Problem(
    "failing-branch", "critical", "build is failing on main", "", None, "o/b", 3
)
BACKLOG = activity.Problem("ingest-backlog", "critical", "9 deliveries waiting", "")


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ("repository", ["o/a", "o/a", "o/b", ""]),
        ("kind", ["failing-branch", "failing-branch", "failing-branch", "ingest-backlog"]),
        ("severity", ["critical", "warning", "critical", "critical"]),
    ],
)
def test_groups_come_from_the_alert(group_by: GroupBy, expected: list[str]) -> None:
    """Repository, kind and severity are those of the alert."""
    found = [group_of(_notification(p), group_by) for p in (BUILD_A, LINT_A, BUILD_B, BACKLOG)]
    assert found == expected


def test_one_message_per_url_and_group_but_one_per_alert_for_pagerduty() -> None:
    """Slack gets o/a's two alerts together; PagerDuty one message per alert."""
    routes = {
        "critical": ["pagerduty-events://K", "slack-webhook://T/B/X"],
        "warning": ["slack-webhook://T/B/X"],
    }
    notifications = [_notification(p) for p in (BUILD_A, LINT_A, BUILD_B)]
    pairs = messages_for(notifications, lambda s: routes[s], "repository", channels.per_alert)
    slack = {m.group: m for url, m in pairs if url.startswith("slack")}
    pagerduty = [m for url, m in pairs if url.startswith("pagerduty")]
    assert [len(m.notifications) for m in pagerduty] == [1, 1]
    assert sorted(slack) == ["o/a", "o/b"]
    assert [n.title for n in slack["o/a"].notifications] == [
        "build is failing on main",
        "lint is failing on main",
    ]
    assert slack["o/a"].severity == "critical"


def test_a_notification_with_routes_goes_to_each_of_their_urls_once() -> None:
    """A resolve routed to critical and warning reaches PagerDuty and Slack, Slack once."""
    routes = {
        "critical": ["pagerduty-events://K", "slack-webhook://T/B/X"],
        "warning": ["slack-webhook://T/B/X"],
    }
    resolve = replace(_notification(LINT_A, "resolved"), routes=("warning", "critical"))
    pairs = messages_for([resolve], lambda s: routes[s], "repository", channels.per_alert)
    assert sorted(url for url, _ in pairs) == ["pagerduty-events://K", "slack-webhook://T/B/X"]


def test_grouping_by_none_sends_every_alert_alone() -> None:
    """group_by none: as many messages as notifications."""
    notifications = [_notification(p) for p in (BUILD_A, LINT_A)]
    pairs = messages_for(notifications, lambda _s: ["json://x"], "none", channels.per_alert)
    assert [len(m.notifications) for _, m in pairs] == [1, 1]


def test_a_grouped_message_lists_one_line_per_alert_resolved_ones_marked() -> None:
    """The text has a heading and a line per notification, each naming its repository."""
    message = Message((_notification(BUILD_A), _notification(LINT_A, "resolved")), "o/a")
    assert message.text.splitlines() == [
        "2 alerts (o/a)",
        "• CRITICAL: o/a · build is failing on main",
        "• RESOLVED: failing workflow in o/a cleared (was: lint is failing on main)",
    ]
    assert message.title == "controltower: 2 alerts (o/a)"


def test_alerts_of_two_repositories_grouped_by_kind_say_which_is_which() -> None:
    """Grouped by kind, the same title in two repositories gives two distinct lines."""
    pairs = messages_for(
        [_notification(BUILD_A), _notification(BUILD_B)],
        lambda _s: ["slack-webhook://T/B/X"],
        "kind",
        channels.per_alert,
    )
    ((_, message),) = pairs
    assert message.text.splitlines()[1:] == [
        "• CRITICAL: o/a · build is failing on main",
        "• CRITICAL: o/b · build is failing on main",
    ]


def test_a_single_message_names_its_repository_and_a_resolve_what_cleared() -> None:
    """Title and text lead with the repository; a resolve says the figures were then, not now."""
    firing = Message((_notification(BUILD_B),))
    assert firing.title == "controltower: o/b · build is failing on main"
    assert firing.text.splitlines()[0] == "CRITICAL: o/b · build is failing on main"
    resolved = Message((_notification(BACKLOG, "resolved"),))
    assert resolved.title == "controltower: resolved: 9 deliveries waiting"
    assert resolved.text.splitlines()[0] == (
        "RESOLVED: delivery backlog cleared (was: 9 deliveries waiting)"
    )
    metric = activity.Problem(
        "metric", "warning", "failure rate of o/a CI is 40 %", "", None, "o/a", 1, rule="r"
    )
    assert _notification(metric).line == "WARNING: failure rate of o/a CI is 40 %"


@pytest.mark.parametrize(
    ("count", "noun", "plural", "text"),
    [
        (1, "alert", None, "1 alert"),
        (2, "alert", None, "2 alerts"),
        (0, "URL", None, "0 URLs"),
        (1, "delivery", "deliveries", "1 delivery"),
        (3, "run", None, "3 runs"),
    ],
)
def test_counts_are_singular_for_one(count: int, noun: str, plural: str | None, text: str) -> None:
    """1 alert, 2 alerts, 0 URLs."""
    assert counted(count, noun, plural) == text


def test_pagerduty_events_trigger_with_a_payload_and_resolve_with_the_same_dedup_key() -> None:
    """Trigger carries summary, source and severity; resolve only the key."""
    firing = channels.pagerduty_event("K", Message((_notification(BUILD_A),)))
    resolved = channels.pagerduty_event("K", Message((_notification(BUILD_A, "resolved"),)))
    assert firing["event_action"] == "trigger"
    assert firing["payload"]["severity"] == "critical"
    assert firing["payload"]["source"] == "controltower"
    assert firing["payload"]["component"] == "o/a"
    assert resolved == {
        "routing_key": "K",
        "event_action": "resolve",
        "dedup_key": firing["dedup_key"],
    }


def test_long_alert_keys_become_a_stable_dedup_key_within_pagerdutys_limit() -> None:
    """Keys over 255 characters are digested, the same way every time."""
    key = "failing-branch|o/a|1|" + "x" * 400
    assert len(channels.dedup_key(key)) <= 255
    assert channels.dedup_key(key) == channels.dedup_key(key)
    assert channels.dedup_key("ingest-backlog") == "ingest-backlog"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("0", 0.0), ("soon", None), (None, None), ("Wed, 01 Nov 2026 00:00:30 GMT", 30.0)],
)
def test_retry_after_reads_seconds_and_http_dates(
    header: str | None, expected: float | None
) -> None:
    """Both forms of Retry-After; anything else is ignored."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert channels.retry_after(header, now) == expected
    assert channels.retry_after("Wed, 01 Nov 2026 00:00:00 GMT", now + timedelta(hours=1)) == 0.0


def test_only_the_scheme_of_a_channel_url_is_kept() -> None:
    """The routing key and tokens never leave the URL."""
    assert channels.scheme_of("pagerduty-events://SECRETKEY?region=eu") == "pagerduty-events"
    assert channels.scheme_of("SLACK-WEBHOOK://T/B/X") == "slack-webhook"


def test_a_grouped_message_names_each_alert_by_id_and_link() -> None:
    """Each line of a group ends with its alert's id and link; the dashboard URL's slash is
    not doubled; without a URL there is no link."""
    first = replace(_notification(BUILD_A), alert_id=4, link=alert_link("https://ct.io/", 4))
    second = replace(_notification(LINT_A), alert_id=5)
    lines = Message((first, second), "o/a").text.splitlines()
    assert lines[1].endswith("(alert #4: https://ct.io/alerts#alert-4)")
    assert lines[2].endswith("(alert #5)")
    assert alert_link(None, 4) is None
    assert alert_link("https://ct.io", None) is None


def test_a_message_kept_as_a_document_comes_back_the_same() -> None:
    """What the outbox keeps is the message sent: every field, times with their zone."""
    firing = replace(
        _notification(BUILD_A), alert_id=4, link="https://ct.io/alerts#alert-4", fact_at=SINCE
    )
    resolved = replace(_notification(LINT_A, "resolved"), routes=("critical", "warning"))
    message = Message((firing, resolved), "o/a")
    assert message_of(message_document(message)) == message


def test_alerts_of_one_cause_in_several_repositories_travel_as_one_message() -> None:
    """Anomalies two repositories show at once (one cause outside them) go to Slack together,
    under the cause, whatever the grouping but none; PagerDuty still gets one event each."""
    cause = "queue time rise in several repositories from 2026-11-01 08:00 UTC"
    a = replace(_notification(BUILD_A), group=cause)
    b = replace(_notification(BUILD_B), group=cause)
    urls = ["pagerduty-events://K", "slack-webhook://T/B/X"]
    groupings: tuple[GroupBy, ...] = ("repository", "kind", "severity")
    for group_by in groupings:
        pairs = messages_for([a, b], lambda _s: urls, group_by, channels.per_alert)
        slack = [m for url, m in pairs if url.startswith("slack")]
        assert [(m.group, len(m.notifications)) for m in slack] == [(cause, 2)], group_by
        assert len([url for url, _ in pairs if url.startswith("pagerduty")]) == 2
    assert slack[0].text.splitlines()[0] == f"2 alerts ({cause})"
    alone = messages_for([a, b], lambda _s: urls[1:], "none", channels.per_alert)
    assert [len(m.notifications) for _, m in alone] == [1, 1]
    assert message_of(message_document(slack[0])).notifications[0].group == cause
