"""Whether this installation works: the checks behind ``controltower health`` and ``/readyz``.

Each check ends ``ok``, ``info`` (worth knowing, nothing wrong), ``degraded``
(working, but needs attention), ``failing`` (not working) or ``skipped`` (could
not be judged, or does not apply yet). The installation is ``failing`` when any
check fails, ``degraded`` when any is degraded, and ``healthy`` otherwise.

- ``database``: it answers, and its schema is at this code's revision. When it
  fails, the checks that read it are skipped.
- ``queue``: the task queue answers (Redis pinged with a one-second timeout;
  the embedded SQLite queue is a file beside the database, always there).
- ``queue-backlog``: deliveries waiting to be normalized, against
  ``telemetry.problems.backlog_warning`` (degraded) and ``backlog_critical``
  (failing); deliveries that could not be normalized make it degraded.
- ``ingest-freshness``: the newest webhook delivery is younger than
  ``telemetry.problems.quiet_after_hours`` (degraded otherwise; info before the
  first delivery).
- ``model``: a live model version serves predictions; without one, or with
  prediction off, predictions fall back to baselines or are not made (info).
- ``notifications``: where alerts go: the URLs the routes reach, per channel
  whether it works, the alerts firing, the notifications still owed and
  their p95 latency. A channel whose delivery is in trouble
  (``telemetry.delivery_health``: its latest message given up, a message
  overdue or owed too long, or repeated failed attempts since its last
  delivery, as ``alerts.delivery_health`` says) makes it degraded, naming the
  channel and why; one failed attempt whose retry is on schedule is named in
  the detail and stays ok. Info when no channel has a URL (alerts show on the
  dashboard only), skipped when alerting is off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlparse

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from controltower.config import Settings
from controltower.domain.wording import counted
from controltower.errors import MigrationRequired
from controltower.integrations import channels
from controltower.intelligence import registry
from controltower.intelligence.capability import prediction_mode
from controltower.store import queries
from controltower.store.engine import reading
from controltower.store.schema import current_revision, ensure_current
from controltower.store.tables import Alert, table_of
from controltower.telemetry import notification_log, notification_outbox
from controltower.telemetry.delivery_health import delivery_health, worst_per_channel

alerts_t = table_of(Alert)

CheckStatus = Literal["ok", "info", "degraded", "failing", "skipped"]
Overall = Literal["healthy", "degraded", "failing"]
EXIT_CODES: dict[Overall, int] = {"healthy": 0, "degraded": 1, "failing": 2}


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one check: its status, a sentence for people, and figures for machines."""

    name: str
    status: CheckStatus
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Health:
    """Every check, and the installation's status they add up to."""

    checks: list[Check]
    checked_at: datetime

    @property
    def status(self) -> Overall:
        """``failing`` if any check fails, ``degraded`` if any is degraded, else ``healthy``."""
        statuses = {c.status for c in self.checks}
        if "failing" in statuses:
            return "failing"
        if "degraded" in statuses:
            return "degraded"
        return "healthy"

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 degraded, 2 failing."""
        return EXIT_CODES[self.status]

    def check(self, name: str) -> Check:
        """The check called ``name``."""
        return next(c for c in self.checks if c.name == name)

    def document(self) -> dict[str, Any]:
        """The JSON form: overall status, when, and each check."""
        return {
            "status": self.status,
            "checked_at": self.checked_at.isoformat(),
            "checks": [
                {"name": c.name, "status": c.status, "detail": c.detail, **c.facts}
                for c in self.checks
            ],
        }


def check_health(engine: Engine, settings: Settings, now: datetime | None = None) -> Health:
    """Run every check against the database of ``engine`` with the thresholds of ``settings``."""
    now = now or datetime.now(UTC)
    database = _database(engine)
    if database.status == "failing":
        return without_database(database.detail, settings, now)
    queue = queue_check(settings.resolved_queue_url)
    try:
        with engine.connect() as raw:
            conn = reading(raw)
            rest = [
                _backlog(queries.delivery_states(conn, only=("pending", "failed")), settings),
                _freshness(queries.last_delivery_at(conn), settings, now),
                _model(registry.live_version(conn), prediction_mode(conn, settings).mode),
                _notifications(conn, settings, now),
            ]
    except SQLAlchemyError as exc:
        database = Check("database", "failing", _first_line(exc))
        rest = []
    return Health([database, queue, *rest], now)


def without_database(reason: str, settings: Settings, now: datetime | None = None) -> Health:
    """The health of an installation whose database fails for ``reason``: the checks that read
    it are skipped."""
    skipped = "not checked: the database is unavailable"
    rest = [
        Check(name, "skipped", skipped)
        for name in ("queue-backlog", "ingest-freshness", "model", "notifications")
    ]
    database = Check("database", "failing", reason)
    return Health(
        [database, queue_check(settings.resolved_queue_url), *rest], now or datetime.now(UTC)
    )


def _database(engine: Engine) -> Check:
    try:
        with engine.connect() as conn:
            reading(conn).execute(text("SELECT 1"))
        ensure_current(engine)
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        return Check("database", "failing", f"cannot be reached: {_first_line(exc)}")
    except MigrationRequired as exc:
        return Check("database", "failing", str(exc))
    return Check(
        "database",
        "ok",
        f"{engine.dialect.name} answers; schema at revision {revision}",
        {"dialect": engine.dialect.name, "revision": revision},
    )


def queue_check(url: str) -> Check:
    """Whether the task queue answers: a Redis queue is pinged with a one-second timeout."""
    parsed = urlparse(url)
    scheme = parsed.scheme
    if scheme not in ("redis", "rediss", "unix"):
        kind = "an embedded SQLite file" if scheme == "sqlite" else "in this process"
        return Check("queue", "ok", f"the queue is {kind}", {"backend": scheme})
    import redis  # noqa: PLC0415 (only for a Redis queue)

    port = f":{parsed.port}" if parsed.port else ""
    where = f"{scheme}://{parsed.hostname or ''}{port}{parsed.path}"  # without a password
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0) as client:
            client.ping()
    except redis.RedisError as exc:
        return Check(
            "queue", "failing", f"cannot reach the queue at {where}: {exc}", {"backend": scheme}
        )
    return Check("queue", "ok", f"Redis answers at {where}", {"backend": scheme})


def _backlog(states: dict[str, int], settings: Settings) -> Check:
    limits = settings.telemetry.problems
    pending, failed = states.get("pending", 0), states.get("failed", 0)
    facts = {
        "pending": pending,
        "failed": failed,
        "warning_at": limits.backlog_warning,
        "critical_at": limits.backlog_critical,
    }
    waiting = f"{pending} deliveries waiting to be processed"
    if pending >= limits.backlog_critical:
        return Check("queue-backlog", "failing", f"{waiting}: the worker is far behind", facts)
    if pending >= limits.backlog_warning:
        return Check("queue-backlog", "degraded", f"{waiting}: the worker is behind", facts)
    if failed:
        return Check(
            "queue-backlog",
            "degraded",
            f"{failed} deliveries could not be processed (see controltower replay)",
            facts,
        )
    return Check("queue-backlog", "ok", waiting, facts)


def _freshness(last: datetime | None, settings: Settings, now: datetime) -> Check:
    quiet = timedelta(hours=settings.telemetry.problems.quiet_after_hours)
    if last is None:
        return Check("ingest-freshness", "info", "no webhook delivery yet", {"last_delivery": None})
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    age = now - last
    facts = {"last_delivery": last.isoformat(), "age_s": round(age.total_seconds())}
    when = f"the last webhook delivery arrived {last:%Y-%m-%d %H:%M} UTC"
    if age > quiet:
        return Check("ingest-freshness", "degraded", f"{when}: quiet for too long", facts)
    return Check("ingest-freshness", "ok", when, facts)


def _model(live: registry.VersionInfo | None, mode: str) -> Check:
    if mode == "off":
        return Check("model", "info", "prediction is off", {"mode": mode, "version": None})
    if live is None:
        return Check(
            "model",
            "info",
            "no live model version: predictions come from baselines",
            {"mode": mode, "version": None},
        )
    return Check(
        "model",
        "ok",
        f"version {live.version} is live ({mode}): failure by {live.failure_predictor}, "
        f"duration by {live.duration_predictor}",
        {
            "mode": mode,
            "version": live.version,
            "failure_predictor": live.failure_predictor,
            "duration_predictor": live.duration_predictor,
        },
    )


def _notifications(conn: Connection, settings: Settings, now: datetime) -> Check:
    config = settings.alerts
    if not config.enabled:
        return Check("notifications", "skipped", "alerting is off", {"urls": 0})
    routed = dict.fromkeys(
        name
        for severity in ("critical", "warning", "info")
        for name in config.routes.get(severity, [])
    )
    targets = [
        (name, channels.target_of(url)) for name in routed for url in config.channels.get(name, [])
    ]
    firing = conn.execute(
        select(func.count()).select_from(alerts_t).where(alerts_t.c.resolved_at.is_(None))
    ).scalar_one()
    sent = notification_log.summary(conn, 24.0, now)
    worst = worst_per_channel(delivery_health(conn, targets, now, config.delivery_health))
    failing = {name: h for name, h in worst.items() if h.degraded}
    retrying = {name: h for name, h in worst.items() if h.verdict == "retrying"}
    facts = {
        "urls": len(targets),
        "channels": {
            name: ("failing" if name in failing else "ok")
            for name in routed
            if config.channels.get(name)
        },
        "failing_channels": sorted(failing),
        "retrying_channels": sorted(retrying),
        "firing": int(firing),
        "pending": notification_outbox.pending(conn),
        "failed_24h": sent.failed,
        "latency_p95_s": sent.latency_p95_s,
    }
    if not targets:
        return Check(
            "notifications",
            "info",
            f"no channel has a URL: {counted(firing, 'alert')} firing show on the dashboard only",
            facts,
        )
    if failing:
        named = ", ".join(f"{name} ({h.reason()})" for name, h in sorted(failing.items()))
        return Check(
            "notifications",
            "degraded",
            f"notifications are not getting through to {named} "
            "(GET /api/v1/alerts/notifications says why)",
            facts,
        )
    shown = "".join(f"; {name} {h.reason()}" for name, h in sorted(retrying.items()))
    return Check(
        "notifications",
        "ok",
        f"{counted(len(targets), 'URL')} routed to; {counted(firing, 'alert')} firing{shown}",
        facts,
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
