"""Notifications to real PagerDuty Events v2 and Slack webhook receivers on 127.0.0.1.

The receivers (``tests/support/receivers.py``) validate the request formats
and answer as the services do, or fail, refuse with 429, or hang.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import OperationalError

from controltower.bootstrap.alerting import AlertEvaluation
from controltower.config import Settings
from controltower.integrations.notify import Notification, Notifier
from controltower.store.tables import AlertNotification, Delivery, table_of
from controltower.telemetry import notification_log
from tests.support.receivers import (
    Answer,
    PagerDutyReceiver,
    Receiver,
    SlackReceiver,
    always,
    failing_first,
)
from tests.support.waiting import store_pending, wait_until

deliveries_t = table_of(Delivery)
log_t = table_of(AlertNotification)


@pytest.fixture
def opened() -> Iterator[list[Receiver]]:
    """Receivers made by a test, closed after it."""
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


def _settings(tmp_path: Path, **alerts: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        queue_url="memory://",
        telemetry={"problems": {"backlog_warning": 2, "backlog_critical": 3}},
        alerts={"backoff_base_s": 0.1, "retries": 3, **alerts},
    )


def _notifier(settings: Settings, engine: Engine) -> Notifier:
    return Notifier(settings.alerts, on_outcome=lambda o: notification_log.record(engine, o))


def _logged(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(log_t).order_by(log_t.c.id)).all())


def _failing(repo: str, workflow: str, severity: str = "critical") -> Notification:
    since = datetime.now(UTC) - timedelta(minutes=5)
    key = f"failing-branch|{repo}|1|{workflow} is failing on main"
    title = f"{workflow} is failing on main"
    return Notification(
        key, "firing", severity, title, "failed", since, since, "delivery", repository=repo
    )


def test_pagerduty_trigger_and_resolve_share_the_alert_key_as_dedup_key(
    engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """A backlog pages PagerDuty with a trigger; clearing it resolves the same incident."""
    pagerduty, slack = PagerDutyReceiver(), SlackReceiver()
    opened += [pagerduty, slack]
    settings = _settings(tmp_path, channels={"pagerduty": [pagerduty.url()], "slack": []})
    notifier = _notifier(settings, engine)
    try:
        store_pending(engine, 3)
        evaluation = AlertEvaluation(engine, settings, notifier)
        assert evaluation.run() == {"firing": 1, "resolved": 0}
        assert wait_until(lambda: len(pagerduty.accepted) == 1)
        with engine.begin() as conn:
            conn.execute(update(deliveries_t).values(state="processed"))
        assert evaluation.run() == {"firing": 0, "resolved": 1}
        assert wait_until(lambda: len(pagerduty.accepted) == 2)
        assert wait_until(lambda: len(_logged(engine)) == 2)
    finally:
        notifier.close()
    trigger, resolve = pagerduty.accepted
    assert pagerduty.invalid == []
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] == "ingest-backlog"
    assert trigger["routing_key"] == "R0UT1NGKEY"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["summary"].startswith("3 deliveries waiting")
    rows = _logged(engine)
    assert [(r.channel, r.event, r.attempts) for r in rows] == [
        ("pagerduty-events", "firing", 1),
        ("pagerduty-events", "resolved", 1),
    ]
    assert all(r.sent_at is not None and 0 <= r.latency_s < 5 and r.error is None for r in rows)
    assert {r.fact_source for r in rows} == {"detection"}
    assert all("R0UT1NGKEY" not in r.channel for r in rows)


def test_a_resolve_reaches_every_channel_the_alert_fired_on_after_a_downgrade(
    engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """Critical (PagerDuty and Slack), then warning (Slack only), then clear: both hear RESOLVED."""
    pagerduty, slack = PagerDutyReceiver(), SlackReceiver()
    opened += [pagerduty, slack]
    settings = _settings(
        tmp_path, channels={"pagerduty": [pagerduty.url()], "slack": [slack.url()]}
    )
    notifier = _notifier(settings, engine)
    try:
        store_pending(engine, 3)
        evaluation = AlertEvaluation(engine, settings, notifier)
        assert evaluation.run() == {"firing": 1, "resolved": 0}
        assert wait_until(lambda: len(pagerduty.accepted) == 1 and len(slack.accepted) == 1)
        with engine.begin() as conn:
            first = conn.execute(select(deliveries_t.c.id).limit(1)).scalar_one()
            conn.execute(
                update(deliveries_t).where(deliveries_t.c.id == first).values(state="processed")
            )
        assert evaluation.run() == {"firing": 0, "resolved": 0}  # downgraded to warning
        with engine.begin() as conn:
            conn.execute(update(deliveries_t).values(state="processed"))
        assert evaluation.run() == {"firing": 0, "resolved": 1}
        assert wait_until(lambda: len(pagerduty.accepted) == 2 and len(slack.accepted) == 2)
    finally:
        notifier.close()
    assert [e["event_action"] for e in pagerduty.accepted] == ["trigger", "resolve"]
    assert pagerduty.accepted[1]["dedup_key"] == "ingest-backlog"
    assert slack.texts()[1].startswith("RESOLVED")
    assert pagerduty.invalid == slack.invalid == []


def test_slack_gets_one_message_per_repository_while_pagerduty_gets_one_event_per_alert(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """Grouped by repository: two alerts of org/a in one Slack message; three PagerDuty events."""
    pagerduty, slack = PagerDutyReceiver(), SlackReceiver()
    opened += [pagerduty, slack]
    settings = _settings(
        tmp_path, channels={"pagerduty": [pagerduty.url()], "slack": [slack.url()]}
    )
    notifier = _notifier(settings, sqlite_engine)
    try:
        notifier.deliver_all(
            [_failing("org/a", "build"), _failing("org/a", "deploy"), _failing("org/b", "build")]
        )
        assert wait_until(lambda: len(slack.accepted) == 2 and len(pagerduty.accepted) == 3)
        assert wait_until(lambda: len(_logged(sqlite_engine)) == 6)
    finally:
        notifier.close()
    assert slack.invalid == pagerduty.invalid == []
    grouped = next(t for t in slack.texts() if "org/a" in t)
    assert grouped.splitlines() == [
        "2 alerts (org/a)",
        "• CRITICAL: org/a · build is failing on main",
        "• CRITICAL: org/a · deploy is failing on main",
    ]
    single = next(t for t in slack.texts() if "org/a" not in t)
    assert single.startswith("CRITICAL: org/b · build is failing on main")
    assert len({e["dedup_key"] for e in pagerduty.accepted}) == 3
    slack_rows = [r for r in _logged(sqlite_engine) if r.channel == "slack-webhook"]
    assert sorted(r.grouped for r in slack_rows) == [1, 2, 2]


def test_a_failing_receiver_is_retried_with_doubling_waits(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """Two 503s, then accepted: three attempts, the second wait about twice the first."""
    slack = SlackReceiver(failing_first(2, Answer(503)))
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()]}, backoff_base_s=0.3, retries=3)
    notifier = _notifier(settings, sqlite_engine)
    try:
        notifier.deliver(_failing("org/a", "build", "warning"))
        assert wait_until(lambda: len(_logged(sqlite_engine)) == 1)
    finally:
        notifier.close()
    first, second, third = slack.arrivals
    assert 0.3 <= second - first < 0.55
    assert 0.6 <= third - second < 0.9
    (row,) = _logged(sqlite_engine)
    assert (row.attempts, row.error) == (3, None)
    assert row.sent_at is not None


def test_a_429_is_retried_after_the_wait_it_asks_for(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """Retry-After: 1 is honoured even though the backoff would retry at once."""
    slack = SlackReceiver(failing_first(1, Answer(429, retry_after="1")))
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()]}, backoff_base_s=0.01)
    notifier = _notifier(settings, sqlite_engine)
    try:
        notifier.deliver(_failing("org/a", "build", "warning"))
        assert wait_until(lambda: len(slack.accepted) == 1)
    finally:
        notifier.close()
    assert 1.0 <= slack.arrivals[1] - slack.arrivals[0] < 1.5


def test_a_hanging_receiver_delays_no_other_and_is_given_up(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """PagerDuty hangs past its timeout; Slack still gets the alert at once; the failure is kept."""
    hanging = PagerDutyReceiver(always(Answer(hang_s=3.0)))
    slack = SlackReceiver()
    opened += [hanging, slack]
    settings = _settings(
        tmp_path,
        channels={"pagerduty": [hanging.url(timeout_s=0.3)], "slack": [slack.url()]},
        retries=1,
    )
    notifier = _notifier(settings, sqlite_engine)
    try:
        started = time.monotonic()
        notifier.deliver(_failing("org/a", "build"))
        assert time.monotonic() - started < 0.2
        assert wait_until(lambda: len(slack.accepted) == 1, 1.0)
        assert wait_until(lambda: len(_logged(sqlite_engine)) == 2)
    finally:
        notifier.close()
    assert hanging.attempts == 2
    failed = next(r for r in _logged(sqlite_engine) if r.channel == "pagerduty-events")
    assert failed.sent_at is None
    assert failed.latency_s is None
    assert "Timeout" in failed.error


def test_a_receiver_that_hangs_on_every_event_delays_no_message_to_another(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """Six PagerDuty events hang, more than the threads a URL has; Slack's six still arrive at
    once, each within a couple of seconds of being handed over."""
    hanging = PagerDutyReceiver(always(Answer(hang_s=4.0)))
    slack = SlackReceiver()
    opened += [hanging, slack]
    settings = _settings(
        tmp_path,
        channels={"pagerduty": [hanging.url(timeout_s=3.0)], "slack": [slack.url()]},
        group_by="none",
        retries=0,
    )
    notifier = _notifier(settings, sqlite_engine)
    try:
        started = time.monotonic()
        notifier.deliver_all([_failing(f"org/r{i}", "build") for i in range(6)])
        assert wait_until(lambda: len(slack.accepted) == 6, 5.0)
    finally:
        notifier.close()
    assert max(slack.arrivals) - started < 2.0
    assert slack.invalid == []


def test_a_notification_waiting_for_its_retry_is_recorded_given_up_when_the_notifier_closes(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """Failed once, its retry a minute away: closing (a restart) logs it given up, with why, and
    the notification log counts it failed; nothing is sent after the close."""
    slack = SlackReceiver(always(Answer(503)))
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()]}, backoff_base_s=60.0)
    notifier = _notifier(settings, sqlite_engine)
    notifier.deliver(_failing("org/a", "build", "warning"))
    assert wait_until(lambda: slack.attempts == 1)
    time.sleep(0.2)  # the failure is being handled: its retry gets scheduled
    assert _logged(sqlite_engine) == []
    notifier.close()
    (row,) = _logged(sqlite_engine)
    assert (row.sent_at, row.attempts, row.event) == (None, 1, "firing")
    assert row.error == "given up: controltower stopped while it waited for its retry"
    with sqlite_engine.connect() as conn:
        assert notification_log.summary(conn).failed == 1
    notifier.deliver(_failing("org/b", "build", "warning"))
    assert len(_logged(sqlite_engine)) == 2  # refused at once, and recorded
    assert slack.attempts == 1


def test_a_refusal_that_cannot_change_is_not_retried(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """A 404 (a deleted webhook) is given up after one attempt, with the reason."""
    slack = SlackReceiver(always(Answer(404)))
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()]})
    notifier = _notifier(settings, sqlite_engine)
    try:
        notifier.deliver(_failing("org/a", "build", "warning"))
        assert wait_until(lambda: len(_logged(sqlite_engine)) == 1)
        time.sleep(0.3)
    finally:
        notifier.close()
    assert slack.attempts == 1
    (row,) = _logged(sqlite_engine)
    assert row.error.startswith("HTTP 404")


def test_an_evaluation_that_fails_leaves_the_delivery_time_to_the_next_one(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """The delivery noted before a failed evaluation is the fact time of the next one."""
    slack = SlackReceiver()
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()], "pagerduty": []})
    notifier = _notifier(settings, sqlite_engine)
    arrived = datetime.now(UTC) - timedelta(seconds=3)
    try:
        store_pending(sqlite_engine, 3)
        evaluation = AlertEvaluation(sqlite_engine, settings, notifier)
        evaluation.note_delivery(arrived)
        with sqlite_engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE alerts RENAME TO alerts_away")
        with pytest.raises(OperationalError):
            evaluation.run()
        with sqlite_engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE alerts_away RENAME TO alerts")
        assert evaluation.run() == {"firing": 1, "resolved": 0}
        assert wait_until(lambda: len(_logged(sqlite_engine)) == 1)
    finally:
        notifier.close()
    (row,) = _logged(sqlite_engine)
    assert (row.fact_source, row.fact_at) == ("delivery", arrived)
    assert row.latency_s >= 3.0
