"""``Container``: what a process needs, built from settings and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass, field

from huey import Huey
from sqlalchemy import Engine

from controltower.bootstrap.queue import Tasks, make_huey, register_tasks
from controltower.config import Settings
from controltower.ingest.journal import DeliveryJournal
from controltower.store.engine import make_engine
from controltower.telemetry.views import Views


@dataclass
class Container:
    """The wired parts of one controltower process.

    The journal only runs in a process that serves webhooks; there, background
    normalization waits for lulls in incoming deliveries (``wait_until_quiet``),
    and elsewhere (``controltower worker``) that wait returns at once.
    """

    settings: Settings
    engine: Engine
    huey: Huey
    journal: DeliveryJournal = field(init=False)
    tasks: Tasks = field(init=False)
    views: Views = field(init=False)

    def __post_init__(self) -> None:
        self.views = Views(self.settings.telemetry.view_ttl_s)
        self.journal = DeliveryJournal(
            self.engine,
            batch_max=self.settings.ingest.commit_batch_max,
            on_committed=self.enqueue_normalize,
        )
        self.tasks = register_tasks(
            self.huey,
            self.engine,
            sweep_minutes=max(1, round(self.settings.ingest.sweep_interval_s / 60)),
            before_batch=self.journal.wait_until_quiet,
            settings=self.settings,
        )

    def enqueue_normalize(self, ids: list[int]) -> None:
        """Queue normalization of newly stored deliveries, in chunks the worker handles well."""
        size = self.settings.ingest.normalize_batch_max
        for start in range(0, len(ids), size):
            self.tasks.normalize(ids[start : start + size])

    def close(self) -> None:
        """Stop the journal, the view refresher and alert evaluation; release connections."""
        self.journal.stop()
        if self.tasks.alert_trigger is not None:
            self.tasks.alert_trigger.close()
        self.views.close()
        self.engine.dispose()


def build(settings: Settings) -> Container:
    """Wire settings into a container; nothing is started yet."""
    engine = make_engine(settings.resolved_database_url)
    return Container(settings=settings, engine=engine, huey=make_huey(settings.resolved_queue_url))
