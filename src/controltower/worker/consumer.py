"""Running huey's consumer: in threads beside the web server, or as a process of its own.

The in-process consumer is huey's own ``Consumer`` started without its signal
handlers (the web server owns the process's signals) and stopped gracefully
on shutdown. Either way, pending deliveries left by a crash are swept once at
start, before new work, and each periodic task is enqueued once per period
however many consumers share the queue (``worker.periodic``).
"""

from __future__ import annotations

import threading
from typing import Any

import structlog

from controltower.bootstrap import Container
from controltower.ingest import processing
from controltower.worker.periodic import OncePerPeriodConsumer

log = structlog.get_logger(__name__)


# Poll an idle queue at most once a second (huey's default backs off to 10 s, which a
# delivery after a quiet spell would wait before normalizing, and its alert with it);
# Redis blocks on the queue instead of polling, so this matters for the SQLite queue.
POLLING = {"initial_delay": 0.05, "backoff": 1.5, "max_delay": 1.0}


class _QuietConsumer(OncePerPeriodConsumer):
    """huey's consumer, minus the signal handlers it may only install from the main thread."""

    def _set_signal_handlers(self) -> None:
        return None


def _start_alerting(container: Container) -> None:
    if container.tasks.alert_trigger is not None:
        container.tasks.alert_trigger.start()


def _sweep_at_start(container: Container) -> None:
    report = processing.process_all_pending(container.engine)
    if report.total:
        log.info("startup_sweep", **vars(report))


class InProcessConsumer:
    """huey's consumer running in threads of this process.

    One worker thread by default: normalizing is CPU-bound and shares the GIL
    with the web server, so more threads would only take time from answering
    webhooks; run ``controltower worker`` processes for more throughput.
    """

    def __init__(self, container: Container, workers: int = 1) -> None:
        self._container = container
        self._consumer = _QuietConsumer(
            container.huey,
            workers=workers,
            worker_type="thread",
            periodic=True,
            check_worker_health=True,
            **POLLING,
        )

    def start(self) -> None:
        """Sweep leftovers in the background, then start the consumer threads."""
        threading.Thread(
            target=_sweep_at_start, args=(self._container,), name="startup-sweep", daemon=True
        ).start()
        _start_alerting(self._container)
        self._consumer.start()

    def stop(self) -> None:
        """Let running tasks finish, then stop."""
        self._consumer.stop(graceful=True)


def run_worker(container: Container, workers: int = 2, **options: Any) -> None:
    """Run the consumer in the foreground until interrupted (``controltower worker``)."""
    _start_alerting(container)
    _sweep_at_start(container)
    consumer = OncePerPeriodConsumer(
        container.huey,
        workers=workers,
        worker_type="thread",
        periodic=True,
        **{**POLLING, **options},
    )
    log.info("worker_started", workers=workers, queue=container.settings.resolved_queue_url)
    consumer.run()
