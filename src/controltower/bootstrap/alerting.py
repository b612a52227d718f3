"""Alert evaluation wired up: on a schedule, and soon after the worker writes completed runs.

``AlertEvaluation.run`` evaluates the rules (``telemetry.alerts``), stamps each
notification with when its fact arrived and its link on the dashboard
(``server.public_url``), and has the ``Notifier`` keep their messages in the
outbox (``telemetry.notification_outbox``) in the evaluation's own
transaction, so an alert recorded as notified always has its messages kept;
once it commits they are sent, and their outcomes go to the notification log
(``telemetry.notification_log``).
One evaluation runs at a time in a process (a lock), and on PostgreSQL
``telemetry.alerts`` serializes them across processes.

``EvaluationTrigger`` is the event-driven path: ingest calls ``request`` with
the ``received_at`` of the newest delivery of a completed run it wrote; one
daemon thread (started with the worker, or on the first request; it first
loads apprise's plugins when a channel needs them) waits ``settle_s`` so a burst
coalesces, keeps evaluations ``min_interval_s`` apart, and runs one. Requests
arriving meanwhile only raise the watermark, so a burst of deliveries makes
one or two evaluations, never a queue of them. ``request`` only sets a flag:
it never blocks or fails ingest, and an evaluation that fails is logged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from huey import Huey, crontab
from sqlalchemy import Connection, Engine

from controltower.config import Settings
from controltower.integrations.alert_messages import alert_link
from controltower.integrations.notify import Notification, Notifier, Prepared
from controltower.telemetry import notification_log
from controltower.telemetry.alerts import evaluate_store
from controltower.telemetry.notification_outbox import StoredOutbox
from controltower.telemetry.suppression import Decision

log = structlog.get_logger(__name__)


class Evaluation(Protocol):
    """What the trigger runs: remembers deliveries, and evaluates."""

    def note_delivery(self, received_at: datetime) -> None:
        """Remember that facts of a delivery received at ``received_at`` are stored now."""

    def run(self) -> dict[str, int]:
        """Evaluate now."""

    def warm(self) -> None:
        """Prepare what the first evaluation would otherwise wait for."""

    def close(self) -> None:
        """Stop sending; what was still waiting is left for the next start."""


class AlertEvaluation:
    """Evaluates the alert rules and delivers what they raise, one evaluation at a time."""

    def __init__(self, engine: Engine, settings: Settings, notifier: Notifier) -> None:
        self._engine = engine
        self._settings = settings
        self.notifier = notifier
        self._lock = threading.Lock()
        self._watermark_lock = threading.Lock()
        self._watermark: datetime | None = None

    def note_delivery(self, received_at: datetime) -> None:
        """Remember that facts of a delivery received at ``received_at`` are stored now."""
        with self._watermark_lock:
            if self._watermark is None or received_at > self._watermark:
                self._watermark = received_at

    def warm(self) -> None:
        """Load what sending needs (apprise's plugins) before the first alert."""
        self.notifier.warm()

    def close(self) -> None:
        """Stop sending; notifications still waiting stay in the outbox for the next start."""
        self.notifier.close()

    def run(self) -> dict[str, int]:
        """Evaluate now; notify in the background; how many fired and resolved."""
        with self._lock:
            with self._watermark_lock:
                fact_at, self._watermark = self._watermark, None
            started = time.perf_counter()
            now = datetime.now(UTC)
            source = "delivery" if fact_at is not None else "detection"
            public_url = self._settings.server.public_url
            stamped: list[Notification] = []
            prepared: list[Prepared] = []

            def keep(conn: Connection, decision: Decision) -> None:
                # In the evaluation's transaction: the alerts and the messages they owe
                # commit together.
                stamped[:] = [
                    replace(
                        n,
                        fact_at=fact_at or now,
                        fact_source=source,
                        link=alert_link(public_url, n.alert_id),
                    )
                    for n in decision.send
                ]
                prepared[:] = self.notifier.prepare(stamped, conn)

            try:
                evaluate_store(self._engine, self._settings, now=now, then=keep)
            except Exception:
                if fact_at is not None:  # the next evaluation still answers for that delivery
                    self.note_delivery(fact_at)
                raise
            self.notifier.dispatch(prepared)
        counts = {
            "firing": sum(n.event == "firing" for n in stamped),
            "resolved": sum(n.event == "resolved" for n in stamped),
        }
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        log.info("alerts_evaluated", duration_ms=elapsed_ms, fact=source, **counts)
        return counts


class EvaluationTrigger:
    """Runs ``evaluation`` soon after requests, coalescing bursts, on a thread of its own."""

    def __init__(self, evaluation: Evaluation, settle_s: float, min_interval_s: float) -> None:
        self._evaluation = evaluation
        self._settle_s = settle_s
        self._min_interval_s = min_interval_s
        self._wanted = threading.Event()
        self._stopped = threading.Event()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last = float("-inf")

    def start(self) -> None:
        """Start the thread (it warms the evaluation first); requests start it too."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None and not self._stopped.is_set():
                    self._thread = threading.Thread(
                        target=self._loop, name="alert-trigger", daemon=True
                    )
                    self._thread.start()

    def request(self, received_at: datetime) -> None:
        """Ask for an evaluation that sees the facts of a delivery received at ``received_at``."""
        self._evaluation.note_delivery(received_at)
        self._wanted.set()
        self.start()

    def close(self) -> None:
        """Stop the thread after the evaluation in progress, if any, and close the evaluation
        (what it still had to send stays in the outbox for the next start)."""
        self._stopped.set()
        self._wanted.set()
        self._evaluation.close()

    def _loop(self) -> None:
        try:
            self._evaluation.warm()
        except Exception:  # sending will load what it needs when it first sends
            log.exception("alert_warm_up_failed")
        while not self._stopped.is_set():
            self._wanted.wait()
            if self._stopped.wait(self._settle_s):
                return
            wait = self._last + self._min_interval_s - time.monotonic()
            if wait > 0 and self._stopped.wait(wait):
                return
            self._wanted.clear()
            self._last = time.monotonic()
            try:
                self._evaluation.run()
            except Exception:  # a failed evaluation is retried by the next request or schedule
                log.exception("alert_evaluation_failed")


def register_alerting(
    huey: Huey, engine: Engine, settings: Settings | None
) -> tuple[Any, EvaluationTrigger | None]:
    """The scheduled task ``evaluate_alerts`` and the trigger for ingest; none with alerting off
    (or everything but collection: ``enabled`` false)."""
    if settings is None or not settings.enabled or not settings.alerts.enabled:
        return None, None
    notifier = Notifier(
        settings.alerts,
        on_outcome=lambda outcome: notification_log.record(engine, outcome),
        outbox=StoredOutbox(engine),
    )
    evaluation = AlertEvaluation(engine, settings, notifier)
    trigger = EvaluationTrigger(
        evaluation, settings.alerts.settle_s, settings.alerts.min_interval_s
    )
    minutes = settings.alerts.interval_minutes
    every = crontab(minute=f"*/{minutes}") if minutes < 60 else crontab(minute="0")

    @huey.periodic_task(every, name="evaluate_alerts")  # type: ignore[untyped-decorator]
    def evaluate_alerts() -> dict[str, int]:
        return evaluation.run()

    return evaluate_alerts, trigger
