"""Periodic tasks enqueued once per period, however many consumers share the queue.

huey's scheduler runs in every consumer: each checks the periodic tasks once
a minute and enqueues those whose crontab matches that minute, so with two
``controltower worker`` processes (or ``serve``'s in-process consumer beside
one) every periodic task ran twice a period: alerts evaluated twice a minute,
reconciliation, retention and training done twice.

``OncePerPeriodScheduler`` enqueues a periodic task only after taking its
slot, the task's name and the minute its crontab matched, in the queue's own
storage, the one place every consumer of the queue shares: a Redis
``SET NX`` with an expiry, or an ``INSERT OR IGNORE`` into the kv table of
huey's SQLite file. The first consumer to take a slot enqueues the task; the
others find it taken and skip it. The slot is the minute as each consumer's
own clock matched it, and each consumer looks once in each minute of its
clock, so clocks that disagree by less than ``KEEP`` (an hour, longer than
any reasonable skew between machines) still name the same slots; then the
slots are dropped. An in-process queue
(``memory://``, ``immediate://``) has one consumer and needs no slot.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from huey import Huey
from huey.consumer import Consumer, Scheduler
from huey.storage import RedisStorage, SqliteStorage

log = structlog.get_logger(__name__)
KEEP = timedelta(hours=1)
PREFIX = "periodic:"


class Slots(Protocol):
    """Where consumers of one queue agree which of them enqueues a periodic task's run."""

    def take(self, task: str, slot: datetime) -> bool:
        """Whether this caller is the first to take ``task``'s run at ``slot`` (a minute)."""


def slot_key(task: str, slot: datetime) -> str:
    """The key of ``task``'s run at the minute ``slot``: ordered by time, then task."""
    return f"{PREFIX}{slot:%Y%m%dT%H%M}:{task}"


class RedisSlots:
    """Slots as Redis keys beside the queue, each set once and expiring after ``KEEP``."""

    def __init__(self, storage: RedisStorage) -> None:
        self._conn = storage.conn
        self._prefix = f"huey.{storage.name}.{PREFIX}"

    def take(self, task: str, slot: datetime) -> bool:
        """Whether ``SET NX`` made the slot's key now."""
        key = self._prefix + slot_key(task, slot).removeprefix(PREFIX)
        return bool(self._conn.set(key, b"1", nx=True, ex=int(KEEP.total_seconds())))


class SqliteSlots:
    """Slots as rows of the kv table in huey's SQLite file; taking one drops those older
    than ``KEEP``."""

    def __init__(self, storage: SqliteStorage) -> None:
        self._storage = storage

    def take(self, task: str, slot: datetime) -> bool:
        """Whether the slot's row was inserted now (the file's write lock makes it atomic)."""
        name = self._storage.name
        stale = slot_key("", slot - KEEP)
        with self._storage.db(commit=True) as cursor:
            cursor.execute(
                "insert or ignore into kv (queue, key, value) values (?, ?, ?)",
                (name, slot_key(task, slot), sqlite3.Binary(b"1")),
            )
            taken = bool(cursor.rowcount == 1)
            cursor.execute(
                "delete from kv where queue = ? and key > ? and key < ?", (name, PREFIX, stale)
            )
        return taken


def slots_of(huey: Huey) -> Slots | None:
    """The slots of ``huey``'s queue, or none for a queue in this process only."""
    storage = huey.storage
    if isinstance(storage, RedisStorage):
        return RedisSlots(storage)
    if isinstance(storage, SqliteStorage):
        return SqliteSlots(storage)
    return None


class OncePerPeriodScheduler(Scheduler):  # type: ignore[misc]
    """huey's scheduler, enqueuing a periodic task only when it takes the task's slot."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = slots_of(self.huey)

    def enqueue_periodic_tasks(self, now: datetime | None) -> None:
        """Enqueue each periodic task due at ``now`` (huey's clock: naive UTC) whose slot this
        consumer takes first."""
        now = now or self.huey._get_timestamp()
        slot = now.replace(second=0, microsecond=0)
        for task in self.huey.read_periodic(now):
            name = task.name
            try:
                taken = self.slots is None or self.slots.take(name, slot)
            except Exception:  # the queue's storage is down: enqueuing would fail too
                log.exception("periodic_slot_not_taken", task=name)
                continue
            if not taken:
                log.debug("periodic_task_enqueued_elsewhere", task=name, slot=slot.isoformat())
                continue
            log.info("periodic_task_enqueued", task=name, slot=slot.isoformat())
            try:
                self.huey.enqueue(task)
            except Exception:  # as huey's scheduler does: the next period tries again
                log.exception("periodic_task_not_enqueued", task=name)


class OncePerPeriodConsumer(Consumer):  # type: ignore[misc]
    """huey's consumer whose scheduler enqueues each periodic task once per period across
    every consumer of the queue."""

    scheduler_class = OncePerPeriodScheduler
