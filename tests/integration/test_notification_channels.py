"""Notifications to real PagerDuty Events v2 and Slack webhook receivers on 127.0.0.1.

The receivers (``tests/support/receivers.py``) validate the request formats
and answer as the services do, or fail, refuse with 429, or hang.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import OperationalError

from controltower.bootstrap.alerting import AlertEvaluation
from controltower.config import ServerSettings, Settings
from controltower.integrations.notify import Notification, Notifier
from controltower.store.tables import (
    Alert,
    AlertNotification,
    Delivery,
    NotificationOutbox,
    table_of,
)
from controltower.telemetry import notification_log
from controltower.telemetry.notification_outbox import StoredOutbox
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
outbox_t = table_of(NotificationOutbox)


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


def _notifier(
    settings: Settings, engine: Engine, clock: Callable[[], datetime] | None = None
) -> Notifier:
    return Notifier(
        settings.alerts,
        on_outcome=lambda o: notification_log.record(engine, o),
        outbox=StoredOutbox(engine),
        clock=clock,
    )


def _logged(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(log_t).order_by(log_t.c.id)).all())


def _kept(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox_t).order_by(outbox_t.c.id)).all())


def _ahead(seconds: float) -> Callable[[], datetime]:
    """A clock ``seconds`` ahead of now: the retries it finds due are sent at once."""
    return lambda: datetime.now(UTC) + timedelta(seconds=seconds)


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
        ("pagerduty", "firing", 1),
        ("pagerduty", "resolved", 1),
    ]
    assert all(r.sent_at is not None and 0 <= r.latency_s < 5 and r.error is None for r in rows)
    assert {r.fact_source for r in rows} == {"detection"}
    assert all("R0UT1NGKEY" not in r.channel for r in rows)


def test_notifications_carry_the_alert_id_and_its_link_on_the_dashboard(
    engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """With the dashboard's public URL set, Slack's text and PagerDuty's event name the alert by
    id and link to it on /alerts; both formats stay valid for the services."""
    pagerduty, slack = PagerDutyReceiver(), SlackReceiver()
    opened += [pagerduty, slack]
    settings = _settings(
        tmp_path, channels={"pagerduty": [pagerduty.url()], "slack": [slack.url()]}
    ).model_copy(update={"server": ServerSettings(public_url="https://ct.example.com/ops/")})
    notifier = _notifier(settings, engine)
    try:
        store_pending(engine, 3)
        AlertEvaluation(engine, settings, notifier).run()
        assert wait_until(lambda: len(pagerduty.accepted) == 1 and len(slack.accepted) == 1)
    finally:
        notifier.close()
    with engine.connect() as conn:
        alert_id = conn.execute(select(table_of(Alert).c.id)).scalar_one()
    link = f"https://ct.example.com/ops/alerts#alert-{alert_id}"
    assert slack.texts()[0].splitlines()[-1] == f"Alert #{alert_id}: {link}"
    (event,) = pagerduty.accepted
    assert event["links"] == [{"href": link, "text": f"alert #{alert_id} on controltower"}]
    assert event["payload"]["custom_details"]["alert_id"] == alert_id
    assert pagerduty.invalid == slack.invalid == []


def test_without_a_public_url_notifications_carry_the_alert_id_only(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """No dashboard URL configured: the id, and no link (PagerDuty gets no ``links``)."""
    pagerduty, slack = PagerDutyReceiver(), SlackReceiver()
    opened += [pagerduty, slack]
    settings = _settings(
        tmp_path, channels={"pagerduty": [pagerduty.url()], "slack": [slack.url()]}
    )
    notifier = _notifier(settings, sqlite_engine)
    try:
        store_pending(sqlite_engine, 3)
        AlertEvaluation(sqlite_engine, settings, notifier).run()
        assert wait_until(lambda: len(pagerduty.accepted) == 1 and len(slack.accepted) == 1)
    finally:
        notifier.close()
    assert slack.texts()[0].splitlines()[-1] == "Alert #1"
    assert "links" not in pagerduty.accepted[0]
    assert pagerduty.accepted[0]["payload"]["custom_details"]["alert_id"] == 1


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
    slack_rows = [r for r in _logged(sqlite_engine) if r.channel == "slack"]
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
    # Lower bounds: the waits; upper bounds leave room for a loaded machine, not for a
    # wait that failed to double (0.3 then 0.3) or started doubled (0.6 then 1.2).
    assert 0.3 <= second - first < 0.6
    assert 0.6 <= third - second < 1.2
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
    assert 1.0 <= slack.arrivals[1] - slack.arrivals[0] < 2.0


def test_a_hanging_receiver_delays_no_other_and_is_given_up(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """PagerDuty hangs past its timeout; Slack still gets the alert at once; the failure is kept."""
    hanging = PagerDutyReceiver(always(Answer(hang_s=3.0)))
    slack = SlackReceiver()
    opened += [hanging, slack]
    settings = _settings(
        tmp_path,
        channels={"pagerduty": [hanging.url(timeout_s=1.0)], "slack": [slack.url()]},
        retries=1,
    )
    notifier = _notifier(settings, sqlite_engine)
    try:
        started = time.monotonic()
        notifier.deliver(_failing("org/a", "build"))
        assert time.monotonic() - started < 0.5  # not the 1 s the hanging receiver holds it
        assert wait_until(lambda: len(slack.accepted) == 1, 1.0)
        assert wait_until(lambda: len(_logged(sqlite_engine)) == 2)
    finally:
        notifier.close()
    assert hanging.attempts == 2
    failed = next(r for r in _logged(sqlite_engine) if r.channel == "pagerduty")
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


def test_a_notification_waiting_for_its_retry_is_resumed_after_a_restart(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """Failed once, its retry a minute away: closing (a restart) keeps it in the outbox, not
    given up; the next start, its retry due, sends it and marks it delivered."""
    slack = SlackReceiver(always(Answer(503)))
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()]}, backoff_base_s=60.0)
    notifier = _notifier(settings, sqlite_engine)
    notifier.deliver(_failing("org/a", "build", "warning"))
    assert wait_until(lambda: [r.attempts for r in _kept(sqlite_engine)] == [1])
    notifier.close()
    (row,) = _kept(sqlite_engine)
    assert (row.state, row.attempts, row.channel, row.claimed_until) == (
        "pending",
        1,
        "slack",
        None,
    )
    assert row.error.startswith("HTTP 503")
    assert row.next_attempt_at > datetime.now(UTC) + timedelta(seconds=50)
    assert _logged(sqlite_engine) == []  # not given up
    assert slack.url() not in str(row._mapping)  # the URL's secret is not kept
    slack.behaviour = always(Answer())
    restarted = _notifier(settings, sqlite_engine, clock=_ahead(61))
    try:
        restarted.warm()
        assert wait_until(lambda: len(slack.accepted) == 1)
        assert wait_until(lambda: _kept(sqlite_engine)[0].state == "delivered")
        # the log is written after the outbox, by the sending thread, which close does not wait
        assert wait_until(lambda: len(_logged(sqlite_engine)) == 1)
    finally:
        restarted.close()
    (row,) = _kept(sqlite_engine)
    assert (row.attempts, row.error, row.next_attempt_at) == (2, None, None)
    assert row.finished_at is not None
    (logged,) = _logged(sqlite_engine)
    assert (logged.attempts, logged.channel, logged.error) == (2, "slack", None)
    assert slack.texts()[0].startswith("WARNING: org/a · build is failing on main")


def test_a_resumed_retry_waits_for_its_time_and_is_held_by_one_process(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """Resumed before its retry is due, a message waits for it; while one notifier holds it,
    another (a second worker) does not take it; once released, the next one does."""
    slack = SlackReceiver(failing_first(1, Answer(503)))
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()]}, backoff_base_s=60.0)
    first = _notifier(settings, sqlite_engine)
    first.deliver(_failing("org/a", "build", "warning"))
    assert wait_until(lambda: [r.attempts for r in _kept(sqlite_engine)] == [1])
    first.close()
    waiting = _notifier(settings, sqlite_engine)
    other = _notifier(settings, sqlite_engine, clock=_ahead(61))
    try:
        assert waiting.resume() == 1
        assert other.resume() == 0  # held by ``waiting`` until a minute after it is due
        assert slack.attempts == 1
    finally:
        waiting.close()
    try:
        assert other.resume() == 1
        assert wait_until(lambda: len(slack.accepted) == 1)
    finally:
        other.close()
    assert slack.attempts == 2


def test_a_message_another_process_took_up_is_not_sent_twice(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """Its claim lapsed (the process stalled), another notifier takes the message up and
    delivers it; when the first one's retry comes, it sees it no longer holds the message
    and sends nothing."""
    slack = SlackReceiver(failing_first(1, Answer(503)))
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()]}, backoff_base_s=1.0)
    stalled = _notifier(settings, sqlite_engine)
    other = _notifier(settings, sqlite_engine, clock=_ahead(5))
    try:
        stalled.deliver(_failing("org/a", "build", "warning"))
        assert wait_until(lambda: [r.attempts for r in _kept(sqlite_engine)] == [1])
        (row,) = _kept(sqlite_engine)
        with sqlite_engine.begin() as conn:  # the first process's claim lapses
            lapsed = datetime.now(UTC) - timedelta(seconds=1)
            conn.execute(update(outbox_t).values(claimed_until=lapsed))
        assert other.resume() == 1
        assert wait_until(lambda: _kept(sqlite_engine)[0].state == "delivered")
        assert wait_until(lambda: row.id not in stalled._held)  # its retry came and went
    finally:
        stalled.close()
        other.close()
    assert slack.attempts == 2
    assert len(slack.accepted) == 1
    assert [r.attempts for r in _logged(sqlite_engine)] == [2]


def test_a_killed_process_messages_are_taken_up_once_its_claim_lapses_without_an_evaluation(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """A process killed while it held a message leaves its claim to lapse; a running sender
    takes the message up soon after, on its own, though no evaluation hands it anything."""
    slack = SlackReceiver(failing_first(1, Answer(503)))
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()]}, backoff_base_s=60.0)
    killed = _notifier(settings, sqlite_engine)
    killed.deliver(_failing("org/a", "build", "warning"))
    assert wait_until(lambda: [r.attempts for r in _kept(sqlite_engine)] == [1])
    killed.close()
    with sqlite_engine.begin() as conn:  # as if killed while it held the message
        held = datetime.now(UTC) + timedelta(hours=1)
        conn.execute(update(outbox_t).values(claimed_by="killed", claimed_until=held))
    survivor = Notifier(
        settings.alerts,
        on_outcome=lambda o: notification_log.record(sqlite_engine, o),
        outbox=StoredOutbox(sqlite_engine),
        clock=_ahead(61),
        resume_every_s=0.1,
    )
    try:
        survivor.warm()
        assert slack.attempts == 1  # still held by the killed process
        with sqlite_engine.begin() as conn:  # its claim lapses
            conn.execute(update(outbox_t).values(claimed_until=datetime.now(UTC)))
        assert wait_until(lambda: _kept(sqlite_engine)[0].state == "delivered", 5)
    finally:
        survivor.close()
    assert (slack.attempts, len(slack.accepted)) == (2, 1)


def test_a_message_in_flight_to_a_slow_receiver_stays_held_for_its_whole_timeout(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """A URL whose timeout is longer than the claim's minute: while its attempt waits for the
    receiver, another process past that minute does not take the message up and send it
    again."""
    slack = SlackReceiver(always(Answer(hang_s=1.0)))
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url(timeout_s=300)]})
    sending = _notifier(settings, sqlite_engine)
    other = _notifier(settings, sqlite_engine, clock=_ahead(120))
    try:
        sending.deliver(_failing("org/a", "build", "warning"))
        assert wait_until(lambda: slack.attempts == 1)
        assert other.resume() == 0  # the attempt may still be answered
        assert wait_until(lambda: _kept(sqlite_engine)[0].state == "delivered")
    finally:
        sending.close()
        other.close()
    assert (slack.attempts, len(slack.accepted)) == (1, 1)


def test_a_resumed_message_whose_url_is_gone_is_given_up_visibly(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """Restarted with slack's URL replaced, the message owed to the old URL is given up (in
    the outbox and the log, saying why), and the new URL gets nothing it was not sent."""
    old, new = SlackReceiver(always(Answer(503))), SlackReceiver()
    opened += [old, new]
    settings = _settings(tmp_path, channels={"slack": [old.url()]}, backoff_base_s=60.0)
    notifier = _notifier(settings, sqlite_engine)
    notifier.deliver(_failing("org/a", "build", "warning"))
    assert wait_until(lambda: [r.attempts for r in _kept(sqlite_engine)] == [1])
    notifier.close()
    moved = _settings(tmp_path, channels={"slack": [new.url(hook="T1/B1/X1")]})
    restarted = _notifier(moved, sqlite_engine, clock=_ahead(61))
    try:
        assert restarted.resume() == 1
    finally:
        restarted.close()
    (row,) = _kept(sqlite_engine)
    expected = "given up: channel slack no longer has this URL"
    assert (row.state, row.error) == ("given-up", expected)
    (logged,) = _logged(sqlite_engine)
    assert (logged.sent_at, logged.channel, logged.error) == (None, "slack", expected)
    assert new.attempts == 0


def test_retries_exhausted_are_marked_given_up_in_the_outbox(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """Out of retries, the message is given up with the last error, and nothing is owed."""
    slack = SlackReceiver(always(Answer(503)))
    opened.append(slack)
    settings = _settings(
        tmp_path, channels={"slack": [slack.url()]}, backoff_base_s=0.01, retries=2
    )
    notifier = _notifier(settings, sqlite_engine)
    try:
        notifier.deliver(_failing("org/a", "build", "warning"))
        assert wait_until(lambda: _kept(sqlite_engine)[0].state == "given-up")
    finally:
        notifier.close()
    (row,) = _kept(sqlite_engine)
    assert (row.attempts, row.claimed_until, row.next_attempt_at) == (3, None, None)
    assert row.error.startswith("HTTP 503")
    assert slack.attempts == 3


class _BrokenOutbox(StoredOutbox):
    """An outbox whose database refuses every write."""

    def add(self, *args: Any, **kwargs: Any) -> list[int]:
        raise OperationalError("INSERT", {}, Exception("database is locked"))


def test_a_message_the_outbox_cannot_keep_is_still_sent_and_never_blocks(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """The outbox failing to keep a message changes nothing for its delivery; if the process
    stops before it is sent, it is reported given up, as nothing resumes it."""
    slack = SlackReceiver(failing_first(1, Answer(503)))
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()]}, backoff_base_s=0.05)
    notifier = Notifier(
        settings.alerts,
        on_outcome=lambda o: notification_log.record(sqlite_engine, o),
        outbox=_BrokenOutbox(sqlite_engine),
    )
    try:
        notifier.deliver(_failing("org/a", "build", "warning"))
        assert wait_until(lambda: len(slack.accepted) == 1)
    finally:
        notifier.close()
    slack.behaviour = always(Answer(503))
    stopping = Notifier(
        settings.alerts.model_copy(update={"backoff_base_s": 60.0}),
        on_outcome=lambda o: notification_log.record(sqlite_engine, o),
        outbox=_BrokenOutbox(sqlite_engine),
    )
    stopping.deliver(_failing("org/b", "build", "warning"))
    assert wait_until(lambda: slack.attempts == 3)
    assert wait_until(lambda: len(stopping._timers) == 1)  # its retry scheduled
    stopping.close()
    assert _kept(sqlite_engine) == []
    given_up = [r for r in _logged(sqlite_engine) if r.sent_at is None]
    assert [r.error for r in given_up] == [
        "given up: controltower stopped while it waited for its retry"
    ]


def test_an_evaluation_keeps_its_messages_in_its_own_transaction(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """The outbox refusing an evaluation's messages rolls the evaluation back: no alert is
    recorded as notified with nothing owed for it; the next evaluation raises and sends it."""
    slack = SlackReceiver()
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()], "pagerduty": []})
    store_pending(sqlite_engine, 3)
    broken = Notifier(settings.alerts, outbox=_BrokenOutbox(sqlite_engine))
    try:
        with pytest.raises(OperationalError):
            AlertEvaluation(sqlite_engine, settings, broken).run()
    finally:
        broken.close()
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(table_of(Alert))).all() == []
    assert slack.attempts == 0
    notifier = _notifier(settings, sqlite_engine)
    try:
        assert AlertEvaluation(sqlite_engine, settings, notifier).run()["firing"] == 1
        assert wait_until(lambda: [r.state for r in _kept(sqlite_engine)] == ["delivered"])
    finally:
        notifier.close()
    assert len(slack.accepted) == 1


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


def test_an_attempt_whose_claim_was_taken_over_drops_its_outcome(
    sqlite_engine: Engine, tmp_path: Path, opened: list[Receiver]
) -> None:
    """A process whose attempt outlived its claim (stalled), the message taken up and
    delivered by another meanwhile: the late failure changes nothing of the delivered row,
    is not logged as an outcome and schedules no retry."""
    slack = SlackReceiver(lambda attempt: Answer(503, hang_s=1.0) if attempt == 1 else Answer())
    opened.append(slack)
    settings = _settings(tmp_path, channels={"slack": [slack.url()]}, backoff_base_s=0.05)
    stalled = _notifier(settings, sqlite_engine)
    other = _notifier(settings, sqlite_engine, clock=_ahead(5))
    try:
        stalled.deliver(_failing("org/a", "build", "warning"))
        assert wait_until(lambda: slack.attempts == 1)  # waiting for the receiver
        (row,) = _kept(sqlite_engine)
        with sqlite_engine.begin() as conn:  # the first process's claim lapses
            lapsed = datetime.now(UTC) - timedelta(seconds=1)
            conn.execute(update(outbox_t).values(claimed_until=lapsed))
        assert other.resume() == 1
        assert wait_until(lambda: _kept(sqlite_engine)[0].state == "delivered")
        assert wait_until(lambda: row.id not in stalled._held, 5)  # its attempt came back
        time.sleep(0.2)  # a retry it scheduled would have been sent by now
    finally:
        stalled.close()
        other.close()
    (row,) = _kept(sqlite_engine)
    assert (row.state, row.attempts, row.error, row.next_attempt_at) == ("delivered", 1, None, None)
    assert (slack.attempts, len(slack.accepted)) == (2, 1)
    assert [(r.attempts, r.error) for r in _logged(sqlite_engine)] == [(1, None)]
