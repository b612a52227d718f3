"""The health checks behind ``controltower health`` and ``/readyz``, on a real database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from controltower.bootstrap import build
from controltower.bootstrap.health import Health, check_health
from controltower.config import Settings
from controltower.integrations.alert_messages import Message, Notification, message_document
from controltower.integrations.channels import target_of
from controltower.intelligence import registry
from controltower.intelligence.capability import switch_mode
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.tables import AlertNotification, Delivery, NotificationOutbox, table_of
from controltower.web.app import create_app
from tests.support.predictions import trained_version
from tests.support.services import REDIS_URL, require

deliveries_t = table_of(Delivery)
outbox_t = table_of(NotificationOutbox)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _settings(settings: Settings, **update: object) -> Settings:
    return Settings.model_validate({**settings.model_dump(), **update})


def health_of(engine: Engine, settings: Settings) -> Health:
    return check_health(engine, settings, NOW)


def _deliveries(engine: Engine, count: int, state: str = "pending", at: datetime = NOW) -> None:
    with engine.begin() as conn:
        start = len(conn.execute(deliveries_t.select()).all())
        conn.execute(
            insert(deliveries_t),
            [
                {
                    "guid": f"guid-{start + i}",
                    "event": "ping",
                    "content_type": "application/json",
                    "body": b"{}",
                    "received_at": at,
                    "state": state,
                }
                for i in range(count)
            ],
        )


def test_a_fresh_installation_is_healthy(engine: Engine, settings: Settings) -> None:
    """Migrated and empty: database ok, no backlog, nothing delivered yet, baselines only."""
    health = check_health(engine, settings, NOW)
    assert health.status == "healthy"
    assert health.exit_code == 0
    statuses = {c.name: c.status for c in health.checks}
    assert statuses == {
        "database": "ok",
        "queue": "ok",
        "queue-backlog": "ok",
        "ingest-freshness": "info",
        "model": "info",
        "notifications": "info",
    }
    assert health.check("database").facts["revision"] == schema.head_revision(engine)
    assert "baselines" in health.check("model").detail
    assert "dashboard only" in health.check("notifications").detail


def test_notifications_count_urls_and_firing_alerts(engine: Engine, settings: Settings) -> None:
    """Routed URLs make the check ok, per channel; alerting off skips it."""
    routed = _settings(settings, alerts={"channels": {"slack": [SLACK]}})
    check = check_health(engine, routed, NOW).check("notifications")
    assert (check.status, check.facts) == (
        "ok",
        {
            "urls": 1,
            "channels": {"slack": "ok"},
            "failing_channels": [],
            "retrying_channels": [],
            "firing": 0,
            "pending": 0,
            "failed_24h": 0,
            "latency_p95_s": None,
        },
    )
    off = _settings(settings, alerts={"enabled": False})
    assert check_health(engine, off, NOW).check("notifications").status == "skipped"


SLACK, PAGER = "json://127.0.0.1:9/slack", "json://127.0.0.1:9/pager"
MESSAGE = Message((Notification("k", "firing", "critical", "t", "d", NOW),))


def _row(
    engine: Engine,
    state: str,
    attempts: int,
    *,
    kept: float,
    tried: float | None = None,
    due: float | None = None,
    held: float | None = None,
    url: str = SLACK,
    channel: str = "slack",
) -> None:
    """A message to ``url`` kept ``kept`` minutes before NOW, last tried ``tried`` minutes
    before, its next attempt due ``due`` minutes before (negative: after), claimed until
    ``held`` minutes before (negative: after; none: not claimed)."""

    def ago(minutes: float | None) -> datetime | None:
        return None if minutes is None else NOW - timedelta(minutes=minutes)

    with engine.begin() as conn:
        conn.execute(
            insert(outbox_t).values(
                channel=channel,
                target=target_of(url),
                scheme="json",
                message=message_document(MESSAGE),
                state=state,
                attempts=attempts,
                created_at=ago(kept),
                last_attempt_at=ago(tried),
                next_attempt_at=ago(due) if state == "pending" else None,
                claimed_until=ago(held),
                error=None if state == "delivered" else "HTTP 503",
            )
        )


RETRY_ON_SCHEDULE = {"kept": 1, "tried": 1, "due": -0.5}


@pytest.mark.parametrize(
    ("rows", "limits", "status", "detail"),
    [
        ([("pending", 1, RETRY_ON_SCHEDULE)], {}, "ok", "slack retrying after 1 failed attempt"),
        (
            [("pending", 2, RETRY_ON_SCHEDULE)],
            {},
            "degraded",
            "slack (2 failed attempts since its last delivery)",
        ),
        (
            [("pending", 1, RETRY_ON_SCHEDULE), ("pending", 1, RETRY_ON_SCHEDULE)],
            {},
            "degraded",
            "slack (2 failed attempts since its last delivery)",
        ),
        (
            [
                ("pending", 1, {"kept": 6, "tried": 5, "due": -0.5}),
                ("delivered", 1, {"kept": 3, "tried": 3}),
                ("pending", 1, RETRY_ON_SCHEDULE),
            ],
            {},
            "ok",
            "slack retrying after 1 failed attempt",
        ),
        ([("given-up", 6, {"kept": 2, "tried": 1})], {}, "degraded", "slack (given up)"),
        (
            [("pending", 1, {"kept": 6, "tried": 6, "due": 5})],
            {},
            "degraded",
            "slack (a message overdue by 5 minutes)",
        ),
        (
            [("pending", 1, {"kept": 6, "tried": 6, "due": 5, "held": -4})],
            {},
            "ok",
            "slack retrying after 1 failed attempt",
        ),
        (
            [("pending", 0, {"kept": 3, "due": 3})],
            {},
            "degraded",
            "slack (a message overdue by 3 minutes)",
        ),
        (
            [("pending", 1, {"kept": 20, "tried": 1, "due": -1})],
            {},
            "degraded",
            "slack (a message owed for 20 minutes)",
        ),
        (
            [("pending", 1, RETRY_ON_SCHEDULE)],
            {"failed_attempts": 1},
            "degraded",
            "slack (1 failed attempt since its last delivery)",
        ),
        (
            [("pending", 2, RETRY_ON_SCHEDULE)],
            {"failed_attempts": 3},
            "ok",
            "slack retrying after 2 failed attempts",
        ),
        (
            [("pending", 1, {"kept": 6, "tried": 6, "due": 5})],
            {"overdue_after_s": 600},
            "ok",
            "slack retrying after 1 failed attempt",
        ),
    ],
    ids=[
        "one failure, its retry on schedule",
        "two failed attempts of one message",
        "two messages failed once each",
        "a failure before the last delivery no longer counts",
        "given up",
        "retry overdue",
        "retry past due, held by an attempt to a slow receiver",
        "first attempt overdue",
        "owed too long",
        "failed_attempts 1 degrades on one",
        "failed_attempts 3 tolerates two",
        "overdue_after_s 600 tolerates five minutes",
    ],
)
def test_notifications_degrade_only_when_delivery_is_in_trouble(
    engine: Engine,
    settings: Settings,
    rows: list[tuple[str, int, dict[str, float]]],
    limits: dict[str, float],
    status: str,
    detail: str,
) -> None:
    """One failed attempt whose retry is on schedule stays ok, named in the detail; repeated
    failures since the last delivery, a message given up, overdue or owed too long degrade,
    by the thresholds of ``alerts.delivery_health``."""
    routed = _settings(
        settings,
        alerts={"channels": {"slack": [SLACK], "pagerduty": [PAGER]}, "delivery_health": limits},
    )
    for state, attempts, times in rows:
        _row(
            engine,
            state,
            attempts,
            kept=times["kept"],
            tried=times.get("tried"),
            due=times.get("due"),
            held=times.get("held"),
        )
    check = check_health(engine, routed, NOW).check("notifications")
    assert (check.status, health_of(engine, routed).status) == (
        status,
        "healthy" if status == "ok" else "degraded",
    )
    assert detail in check.detail
    assert "pagerduty" not in check.detail
    failing = ["slack"] if status == "degraded" else []
    assert (check.facts["failing_channels"], check.facts["channels"]["pagerduty"]) == (
        failing,
        "ok",
    )
    assert check.facts["retrying_channels"] == ([] if failing else ["slack"])


def test_a_channel_given_up_on_degrades_until_a_later_delivery_to_it_succeeds(
    engine: Engine, settings: Settings
) -> None:
    """Slack's message given up degrades the check, naming slack and not pagerduty; slack's
    next delivery clears it at once, not a day later."""
    routed = _settings(settings, alerts={"channels": {"slack": [SLACK], "pagerduty": [PAGER]}})
    _row(engine, "delivered", 1, kept=5, tried=5, url=PAGER, channel="pagerduty")
    _row(engine, "given-up", 6, kept=5, tried=3)
    check = check_health(engine, routed, NOW).check("notifications")
    assert (check.status, check.facts["failing_channels"]) == ("degraded", ["slack"])
    assert check.detail.startswith("notifications are not getting through to slack (given up)")
    assert check.facts["channels"] == {"pagerduty": "ok", "slack": "failing"}
    _row(engine, "delivered", 1, kept=2, tried=2)
    check = check_health(engine, routed, NOW).check("notifications")
    assert (check.status, check.facts["failing_channels"]) == ("ok", [])
    assert health_of(engine, routed).status == "healthy"


def test_a_failure_of_a_url_no_longer_configured_does_not_count(
    engine: Engine, settings: Settings
) -> None:
    """Given up to an old slack URL, then slack's URL replaced: the new URL has no failure."""
    _row(engine, "given-up", 1, kept=5, tried=5)
    before = _settings(settings, alerts={"channels": {"slack": [SLACK]}})
    assert check_health(engine, before, NOW).check("notifications").status == "degraded"
    after = _settings(settings, alerts={"channels": {"slack": [PAGER]}})
    assert check_health(engine, after, NOW).check("notifications").status == "ok"


def test_the_log_of_old_failures_no_longer_degrades(engine: Engine, settings: Settings) -> None:
    """A notification given up an hour ago, logged, is counted but decides nothing: health
    follows each channel's latest attempt."""
    routed = _settings(settings, alerts={"channels": {"slack": [SLACK]}})
    given_up = {
        "alert_key": "k",
        "event": "firing",
        "severity": "warning",
        "channel": "slack",
        "grouped": 1,
        "attempts": 6,
        "fact_source": "detection",
        "error": "HTTP 500",
    }
    recent = NOW - timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(AlertNotification)),
            [{**given_up, "fact_at": recent, "recorded_at": recent}],
        )
    check = check_health(engine, routed, NOW).check("notifications")
    assert (check.status, check.facts["failed_24h"]) == ("ok", 1)


def test_backlog_against_the_problem_thresholds(engine: Engine, settings: Settings) -> None:
    """Pending deliveries make it degraded at the warning threshold, failing at the critical."""
    tuned = _settings(
        settings, telemetry={"problems": {"backlog_warning": 3, "backlog_critical": 5}}
    )
    _deliveries(engine, 2)
    assert check_health(engine, tuned, NOW).check("queue-backlog").status == "ok"
    _deliveries(engine, 1)
    health = check_health(engine, tuned, NOW)
    assert (health.status, health.exit_code) == ("degraded", 1)
    assert health.check("queue-backlog").facts["pending"] == 3
    _deliveries(engine, 2)
    health = check_health(engine, tuned, NOW)
    assert (health.status, health.exit_code) == ("failing", 2)
    assert "5 deliveries waiting" in health.check("queue-backlog").detail


def test_failed_deliveries_degrade(engine: Engine, settings: Settings) -> None:
    """Deliveries that could not be processed need attention, not a restart."""
    _deliveries(engine, 1, state="failed")
    check = check_health(engine, settings, NOW).check("queue-backlog")
    assert check.status == "degraded"
    assert "replay" in check.detail


def test_ingest_goes_stale_after_the_quiet_hours(engine: Engine, settings: Settings) -> None:
    """A delivery within quiet_after_hours is fresh; an older newest one is degraded."""
    _deliveries(engine, 1, state="processed", at=NOW - timedelta(hours=2))
    assert check_health(engine, settings, NOW).check("ingest-freshness").status == "ok"
    later = NOW + timedelta(hours=settings.telemetry.problems.quiet_after_hours)
    check = check_health(engine, settings, later).check("ingest-freshness")
    assert check.status == "degraded"
    assert check.facts["age_s"] == round((later - NOW + timedelta(hours=2)).total_seconds())


def test_model_availability(engine: Engine, settings: Settings) -> None:
    """A live version is ok and named; prediction off (by settings or a live switch) is info."""
    trained, report = trained_version()
    with engine.begin() as conn:
        live = registry.promote(conn, registry.register(conn, trained, report).version)
    check = check_health(engine, settings, NOW).check("model")
    assert check.status == "ok"
    assert check.facts["version"] == live.version
    off = check_health(engine, _settings(settings, ml_enabled=False), NOW).check("model")
    assert (off.status, off.facts["mode"]) == ("info", "off")
    with engine.begin() as conn:
        switch_mode(conn, "prediction", "off", changed_by="ops", reason="incident")
    switched = check_health(engine, settings, NOW).check("model")
    assert (switched.status, switched.facts["mode"]) == ("info", "off")


def test_an_unmigrated_database_fails_and_skips_the_rest(
    tmp_path: Path, settings: Settings
) -> None:
    """No schema: the database check fails with what to run, the others are not judged."""
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        health = check_health(engine, settings, NOW)
    finally:
        engine.dispose()
    assert (health.status, health.exit_code) == ("failing", 2)
    assert "controltower db upgrade" in health.check("database").detail
    assert health.check("queue").status == "ok"  # the queue does not live in the database
    assert {c.status for c in health.checks[2:]} == {"skipped"}


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings on a SQLite file that is not migrated yet."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'ready.db'}",
        queue_url="memory://",
        github={"webhook_secret": "s"},
    )


@pytest.fixture
def web(sqlite_settings: Settings) -> Iterator[tuple[TestClient, Engine]]:
    """The web application on that database, and the database."""
    container = build(sqlite_settings)
    with TestClient(create_app(container)) as client:
        yield client, container.engine
    container.close()


def test_readyz_follows_the_database_and_carries_the_checks(
    web: tuple[TestClient, Engine],
) -> None:
    """503 until the schema is current, then 200 with every check, degraded or not."""
    client, engine = web
    unready = client.get("/readyz")
    assert unready.status_code == 503
    assert unready.json()["status"] == "unavailable"
    assert "controltower db upgrade" in unready.json()["detail"]
    assert unready.json()["health"] == "failing"
    schema.upgrade(engine)
    _deliveries(engine, 1, state="failed")
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["health"] == "degraded"
    assert [c["name"] for c in body["checks"]] == [
        "database",
        "queue",
        "queue-backlog",
        "ingest-freshness",
        "model",
        "notifications",
    ]
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_keeps_a_ready_result_for_a_few_seconds_and_never_a_failing_one(
    web: tuple[TestClient, Engine],
) -> None:
    """Polls within the interval share one run of the checks; after it, the checks run again."""
    client, engine = web
    assert client.get("/readyz").status_code == 503  # not migrated: not kept
    schema.upgrade(engine)
    first = client.get("/readyz").json()
    assert first["status"] == "ready"
    assert first["health"] != "failing"
    _deliveries(engine, 1, state="failed")
    kept = client.get("/readyz").json()
    assert kept["checked_at"] == first["checked_at"]
    assert kept["checks"] == first["checks"]
    app: Any = client.app
    while not hasattr(app, "state"):  # the webhook ingress wraps the FastAPI application
        app = app.app
    app.state.readiness.seconds = 0.0  # the interval has passed
    fresh = client.get("/readyz").json()
    assert fresh["checked_at"] != first["checked_at"]
    backlog = next(c for c in fresh["checks"] if c["name"] == "queue-backlog")
    assert backlog["status"] == "degraded"
    assert backlog["failed"] == 1


@pytest.mark.redis
def test_the_queue_is_checked_where_it_lives(engine: Engine, settings: Settings) -> None:
    """Redis that answers is ok; one that does not fails the installation (exit 2 in the CLI);
    the embedded SQLite queue needs no server."""
    require("Redis", "127.0.0.1", 6379)
    down = check_health(engine, _settings(settings, queue_url="redis://127.0.0.1:1/0"), NOW)
    assert (down.status, down.check("queue").status) == ("failing", "failing")
    assert "cannot reach the queue at redis://127.0.0.1:1/0" in down.check("queue").detail
    up = check_health(engine, _settings(settings, queue_url=REDIS_URL), NOW).check("queue")
    assert (up.status, up.facts["backend"]) == ("ok", "redis")
    embedded = check_health(engine, _settings(settings, queue_url="sqlite:///q.db"), NOW)
    assert embedded.check("queue").status == "ok"
