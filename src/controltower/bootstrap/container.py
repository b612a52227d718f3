"""``Container``: what a process needs, built from settings and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from huey import Huey
from sqlalchemy import Engine

from controltower.bootstrap.queue import Tasks, make_huey, register_tasks
from controltower.config import Settings
from controltower.ingest.journal import DeliveryJournal
from controltower.store.engine import make_engine

log = structlog.get_logger(__name__)


@dataclass
class Container:
    """The wired parts of one controltower process."""

    settings: Settings
    engine: Engine
    huey: Huey
    tasks: Tasks
    journal: DeliveryJournal = field(init=False)

    def __post_init__(self) -> None:
        self.journal = DeliveryJournal(
            self.engine,
            batch_max=self.settings.ingest.commit_batch_max,
            on_committed=self.enqueue_normalize,
        )

    def enqueue_normalize(self, ids: list[int]) -> None:
        """Queue normalization of newly stored deliveries, in chunks the worker handles well."""
        size = self.settings.ingest.normalize_batch_max
        for start in range(0, len(ids), size):
            self.tasks.normalize(ids[start : start + size])

    def close(self) -> None:
        """Stop the journal and release connections."""
        self.journal.stop()
        self.engine.dispose()


def build(settings: Settings) -> Container:
    """Wire settings into a container; nothing is started yet."""
    engine = make_engine(settings.resolved_database_url)
    huey = make_huey(settings.resolved_queue_url)
    sweep_minutes = max(1, round(settings.ingest.sweep_interval_s / 60))
    tasks = register_tasks(huey, engine, sweep_minutes=sweep_minutes)
    return Container(settings=settings, engine=engine, huey=huey, tasks=tasks)
