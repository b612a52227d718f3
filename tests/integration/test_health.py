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
from controltower.integrations.alert_messages import Message, Notification
from controltower.integrations.channels import target_of
from controltower.intelligence import registry
from controltower.intelligence.capability import switch_mode
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.tables import AlertNotification, Delivery, table_of
from controltower.telemetry.notification_outbox import StoredOutbox
from controltower.web.app import create_app
from tests.support.predictions import trained_version
from tests.support.services import REDIS_URL, require

deliveries_t = table_of(Delivery)
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


def _kept(outbox: StoredOutbox, channel: str, url: str, at: datetime) -> int:
    """A message kept at ``at``, claimed by ``outbox`` until a minute later."""
    entry = (channel, target_of(url), "json", MESSAGE)
    (id_,) = outbox.add([entry], at, at + timedelta(minutes=1))
    return id_


def test_a_failing_channel_degrades_until_a_later_delivery_to_it_succeeds(
    engine: Engine, settings: Settings
) -> None:
    """Retrying or given up, slack's latest attempt degrades the check, naming slack and not
    pagerduty; slack's next delivery clears it at once, not a day later."""
    routed = _settings(
        settings,
        alerts={"channels": {"slack": [SLACK], "pagerduty": [PAGER]}},
    )
    outbox = StoredOutbox(engine)
    failing = _kept(outbox, "slack", SLACK, NOW - timedelta(minutes=5))
    paged = _kept(outbox, "pagerduty", PAGER, NOW - timedelta(minutes=5))
    claimed = NOW - timedelta(minutes=4)
    outbox.delivered(paged, 1, NOW - timedelta(minutes=5), held_until=claimed)
    outbox.failed(failing, 1, "HTTP 503", claimed, NOW, NOW, held_until=claimed)
    check = check_health(engine, routed, NOW).check("notifications")
    assert check.status == "degraded"
    assert check.detail.startswith("the latest notification to slack (retrying) was not")
    assert check.facts["channels"] == {"pagerduty": "ok", "slack": "failing"}
    assert check.facts["pending"] == 1
    outbox.given_up(failing, 6, "HTTP 503", NOW - timedelta(minutes=3), held_until=NOW)
    check = check_health(engine, routed, NOW).check("notifications")
    assert (check.status, check.facts["failing_channels"]) == ("degraded", ["slack"])
    assert "slack (given up)" in check.detail
    assert "pagerduty" not in check.detail
    later = _kept(outbox, "slack", SLACK, NOW - timedelta(minutes=2))
    outbox.delivered(later, 1, NOW - timedelta(minutes=2), held_until=NOW - timedelta(minutes=1))
    check = check_health(engine, routed, NOW).check("notifications")
    assert (check.status, check.facts["failing_channels"]) == ("ok", [])
    assert health_of(engine, routed).status == "healthy"


def test_a_failure_of_a_url_no_longer_configured_does_not_count(
    engine: Engine, settings: Settings
) -> None:
    """Given up to an old slack URL, then slack's URL replaced: the new URL has no failure."""
    outbox = StoredOutbox(engine)
    old = _kept(outbox, "slack", SLACK, NOW - timedelta(minutes=5))
    outbox.given_up(
        old, 1, "HTTP 404", NOW - timedelta(minutes=5), held_until=NOW - timedelta(minutes=4)
    )
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
