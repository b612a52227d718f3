"""The delivery journal: raw deliveries made durable before they are acknowledged.

Requests hand their delivery to one writer thread, which inserts everything
waiting in a single transaction and commits it (group commit), then wakes
every request in the batch. One fsync per batch instead of one per delivery
is what lets a single SQLite file acknowledge thousands of deliveries a
second with ``synchronous=FULL``. A delivery id seen before is not stored
again (``ON CONFLICT (guid) DO NOTHING``) and is answered as a duplicate.

After a batch commits, the new rows' ids go to a second thread, which hands
everything committed since its last call to ``on_committed`` (to queue their
normalization), so a slow queue never delays acknowledgements. If that fails
or the process dies first, the rows are still ``pending`` and the periodic
sweep finds them.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import structlog
from sqlalchemy import Engine

log = structlog.get_logger(__name__)


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
_T = TypeVar("_T")


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
        self._committed: queue.SimpleQueue[list[int] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._notifier: threading.Thread | None = None
        self._last_submit = 0.0

    def start(self) -> None:
        """Start the writer and notifier threads (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="delivery-journal", daemon=True)
            self._notifier = threading.Thread(
                target=self._notify, name="delivery-journal-notify", daemon=True
            )
            self._thread.start()
            self._notifier.start()

    def stop(self) -> None:
        """Write what is queued, hand over what was committed, then stop both threads."""
        if self._thread is not None and self._notifier is not None:
            self._queue.put(None)
            self._thread.join()
            self._committed.put(None)
            self._notifier.join()
            self._thread = self._notifier = None

    def submit(self, delivery: IncomingDelivery) -> Future[Stored]:
        """Queue a delivery; the future resolves once it is committed (or was already stored)."""
        if self._thread is None:
            raise RuntimeError("delivery journal is not started")
        future: Future[Stored] = Future()
        self._last_submit = time.monotonic()
        self._queue.put((delivery, future))
        return future

    def wait_until_quiet(self, quiet_s: float = 0.05, max_wait_s: float = 2.0) -> None:
        """Block while deliveries are arriving, at most ``max_wait_s``.

        Background work in the same process calls this before each batch, so
        that under a burst acknowledging webhooks (GitHub's 10 s deadline) comes
        first and normalizing catches up in the lulls; ``max_wait_s`` keeps it
        from starving under sustained load.
        """
        deadline = time.monotonic() + max_wait_s
        while self._thread is not None and time.monotonic() < deadline:
            idle = time.monotonic() - self._last_submit
            if idle >= quiet_s:
                return
            time.sleep(quiet_s - idle)

    async def append(self, delivery: IncomingDelivery) -> Stored:
        """Store a delivery durably and return once it is committed."""
        return await asyncio.wrap_future(self.submit(delivery))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = _take(self._queue, self._batch_max)
            if batch:
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
        if new_ids:
            self._committed.put(new_ids)

    def _notify(self) -> None:
        stopping = False
        while not stopping:
            lists, stopping = _take(self._committed, None)
            ids = [delivery_id for chunk in lists for delivery_id in chunk]
            if not ids or self._on_committed is None:
                continue
            try:
                self._on_committed(ids)
            except Exception as exc:  # noqa: BLE001 - the periodic sweep picks these up
                log.warning("enqueue_failed", error=str(exc), deliveries=len(ids))

    def write_batch(self, deliveries: list[IncomingDelivery]) -> list[Stored]:
        """Insert deliveries in one transaction; duplicates (by guid) are reported, not stored.

        This is the hot path of webhook ingest, so it speaks to the driver
        directly (``executemany`` of one prepared statement) instead of building
        SQLAlchemy constructs per row: under load it shares the GIL with the
        event loop, and every microsecond here is one taken from answering.
        """
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            dialect = conn.dialect.name
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            stamp: object = now.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else now
            rows = [
                (d.guid, d.event, d.action, d.hook_id, d.content_type, d.body, stamp)
                for d in deliveries
            ]
            conn.exec_driver_sql(
                "INSERT INTO deliveries (guid, event, action, hook_id, content_type, body, "
                "received_at, state, attempts) VALUES "
                f"({', '.join([mark] * 7)}, 'pending', 0) ON CONFLICT (guid) DO NOTHING",
                rows,
            )
            guids = list({d.guid for d in deliveries})
            found = conn.exec_driver_sql(
                "SELECT guid, id, received_at FROM deliveries WHERE guid IN "
                f"({', '.join([mark] * len(guids))})",
                tuple(guids),
            ).all()
        ids = {guid: row_id for guid, row_id, _ in found}
        fresh = {guid for guid, _, received in found if _same_instant(received, stamp)}
        results: list[Stored] = []
        for d in deliveries:
            new = d.guid in fresh
            fresh.discard(d.guid)  # a guid twice in one batch: the second is a duplicate
            results.append(Stored(ids[d.guid], duplicate=not new))
        return results


def _take(source: queue.SimpleQueue[_T | None], limit: int | None) -> tuple[list[_T], bool]:
    """Block for one item, then take what else is waiting (up to ``limit``).

    Returns the items and whether the stop sentinel (``None``) was met.
    """
    first = source.get()
    if first is None:
        return [], True
    items = [first]
    while limit is None or len(items) < limit:
        try:
            item = source.get_nowait()
        except queue.Empty:
            break
        if item is None:
            return items, True
        items.append(item)
    return items, False


def _same_instant(received: object, stamp: object) -> bool:
    """Whether a stored ``received_at`` is this batch's (so the row was inserted by it)."""
    if isinstance(received, datetime) and isinstance(stamp, datetime):
        return received == stamp
    return str(received) == str(stamp)
