"""The delivery journal: raw deliveries made durable before they are acknowledged.

Requests hand their delivery to one writer thread, which inserts everything
waiting in a single transaction and commits it (group commit), then wakes
every request in the batch. One fsync per batch instead of one per delivery
is what lets a single SQLite file acknowledge thousands of deliveries a
second with ``synchronous=FULL``. A delivery id seen before is not stored
again (``ON CONFLICT (guid) DO NOTHING``) and is answered as a duplicate.

After a batch commits, ``on_committed`` receives the new rows' ids (to queue
their normalization); if that fails or the process dies first, the rows are
still ``pending`` and the periodic sweep finds them.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine, select

from controltower.store.tables import Delivery, table_of
from controltower.store.upsert import insert_for

log = structlog.get_logger(__name__)
deliveries_t = table_of(Delivery)


@dataclass(frozen=True, slots=True)
class IncomingDelivery:
    """A verified delivery, as received."""

    guid: str
    event: str
    action: str | None
    hook_id: str | None
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Stored:
    """The journal's answer: the delivery's row id and whether it was already there."""

    id: int
    duplicate: bool


_Item = tuple[IncomingDelivery, "Future[Stored]"]


class DeliveryJournal:
    """Appends deliveries durably with group commit on a dedicated thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_max: int = 256,
        on_committed: Callable[[list[int]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._batch_max = batch_max
        self._on_committed = on_committed
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="delivery-journal", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then stop the writer thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, delivery: IncomingDelivery) -> Future[Stored]:
        """Queue a delivery; the future resolves once it is committed (or was already stored)."""
        if self._thread is None:
            raise RuntimeError("delivery journal is not started")
        future: Future[Stored] = Future()
        self._queue.put((delivery, future))
        return future

    async def append(self, delivery: IncomingDelivery) -> Stored:
        """Store a delivery durably and return once it is committed."""
        return await asyncio.wrap_future(self.submit(delivery))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        try:
            results = self.write_batch([delivery for delivery, _ in batch])
        except Exception as exc:  # noqa: BLE001 - every waiting request must get the failure
            log.error("journal_write_failed", error=str(exc), batch=len(batch))
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), stored in zip(batch, results, strict=True):
            future.set_result(stored)
        new_ids = [stored.id for stored in results if not stored.duplicate]
        if new_ids and self._on_committed is not None:
            try:
                self._on_committed(new_ids)
            except Exception as exc:  # noqa: BLE001 - the periodic sweep picks these up
                log.warning("enqueue_failed", error=str(exc), deliveries=len(new_ids))

    def write_batch(self, deliveries: list[IncomingDelivery]) -> list[Stored]:
        """Insert deliveries in one transaction; duplicates (by guid) are reported, not stored."""
        now = datetime.now(UTC)
        rows = [
            {
                "guid": d.guid,
                "event": d.event,
                "action": d.action,
                "hook_id": d.hook_id,
                "content_type": d.content_type,
                "body": d.body,
                "received_at": now,
                "state": "pending",
                "attempts": 0,
            }
            for d in deliveries
        ]
        with self._engine.begin() as conn:
            stmt = (
                insert_for(conn, deliveries_t)
                .on_conflict_do_nothing(index_elements=["guid"])
                .returning(deliveries_t.c.id, deliveries_t.c.guid)
            )
            inserted = {row.guid: row.id for row in conn.execute(stmt, rows)}
            missing = {d.guid for d in deliveries} - inserted.keys()
            existing = (
                dict(
                    conn.execute(
                        select(deliveries_t.c.guid, deliveries_t.c.id).where(
                            deliveries_t.c.guid.in_(missing)
                        )
                    ).all()
                )
                if missing
                else {}
            )
        results: list[Stored] = []
        claimed: set[str] = set()
        for d in deliveries:
            if d.guid in inserted and d.guid not in claimed:
                claimed.add(d.guid)
                results.append(Stored(inserted[d.guid], duplicate=False))
            else:
                results.append(Stored(inserted.get(d.guid) or existing[d.guid], duplicate=True))
        return results
