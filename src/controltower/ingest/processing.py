"""Turning stored deliveries into facts: the background half of webhook ingest.

A batch of pending deliveries is read and normalized outside any transaction,
then claimed (on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several
workers share the backlog without doing the same delivery twice) and written,
each inside its own savepoint, and the batch commits once. A payload that
cannot be normalized is marked ``failed`` with the reason and never retried;
a database error leaves the delivery ``pending`` for the sweep, and after
``MAX_ATTEMPTS`` marks it failed. Once the batch has committed, ``on_runs``
(when given) hears of the run attempts written that had not completed yet:
requested, queued or in progress, the moment prediction is for (not one GitHub
reported unfinished so long ago that it cannot be going on any more, such as an
old delivery redelivered or replayed: ``domain.could_be_running``); and
``on_completed_runs`` hears when deliveries of completed runs were written,
with the newest one's ``received_at`` (alerts are evaluated then).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import DBAPIError

from controltower.domain import (
    DeploymentFact,
    DeploymentStatusFact,
    JobDeliveryFact,
    PullRequestFact,
    PushFact,
    RunFact,
    could_be_running,
)
from controltower.domain.status import DeliveryState
from controltower.ingest.normalize import Fact, Normalized, normalize
from controltower.ingest.payload import decode_body
from controltower.store.engine import reading
from controltower.store.tables import Delivery, table_of
from controltower.store.writer import FactWriter

log = structlog.get_logger(__name__)
deliveries_t = table_of(Delivery)
MAX_ATTEMPTS = 5
RunKey = tuple[str, str, int]  # repository, run id, attempt
RunsHook = Callable[[list[RunKey]], object]
ReceivedHook = Callable[[datetime], object]


@dataclass
class ProcessReport:
    """What one call to ``process`` did, by outcome."""

    processed: int = 0
    ignored: int = 0
    failed: int = 0
    retry: int = 0

    @property
    def total(self) -> int:
        """Deliveries handled in any way."""
        return self.processed + self.ignored + self.failed + self.retry


def worker_identity() -> str:
    """``host:pid`` of this process, recorded on each delivery it processed."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process(
    engine: Engine,
    ids: Sequence[int] | None = None,
    *,
    limit: int = 50,
    on_runs: RunsHook | None = None,
    on_completed_runs: ReceivedHook | None = None,
) -> ProcessReport:
    """Normalize pending deliveries (the given ids, or the oldest ``limit``).

    Decoding and normalizing, the costly part, happen outside any transaction,
    so the write lock is held only while facts are written and never delays
    the journal's commits. The write transaction then claims the rows that are
    still pending (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and writes only those.
    """
    query = select(
        deliveries_t.c.id,
        deliveries_t.c.guid,
        deliveries_t.c.event,
        deliveries_t.c.content_type,
        deliveries_t.c.body,
        deliveries_t.c.attempts,
        deliveries_t.c.received_at,
    ).where(deliveries_t.c.state == "pending")
    query = query.where(deliveries_t.c.id.in_(list(ids))) if ids is not None else query
    with engine.connect() as conn:
        rows = reading(conn).execute(query.order_by(deliveries_t.c.id).limit(limit)).all()
    if not rows:
        return ProcessReport()
    prepared = [(row, _normalize(row)) for row in rows]
    report = ProcessReport()
    unfinished: list[RunKey] = []
    completed_at: datetime | None = None
    with engine.begin() as conn:
        claim = select(deliveries_t.c.id).where(
            deliveries_t.c.id.in_([row.id for row in rows]), deliveries_t.c.state == "pending"
        )
        if conn.dialect.name == "postgresql":
            claim = claim.with_for_update(skip_locked=True)
        claimed = set(conn.execute(claim).scalars())
        writer = FactWriter(conn)
        who = worker_identity()
        for row, normalized in prepared:
            if row.id in claimed and _write_one(conn, writer, row, normalized, who, report):
                unfinished.extend(_unfinished_runs(normalized, datetime.now(UTC)))
                if _completes_runs(normalized):
                    completed_at = max(completed_at or row.received_at, row.received_at)
    if on_runs is not None and unfinished:
        on_runs(unfinished)
    if on_completed_runs is not None and completed_at is not None:
        on_completed_runs(completed_at)
    if report.total:
        log.info("deliveries_processed", **vars(report))
    return report


def process_all_pending(
    engine: Engine,
    *,
    batch: int = 50,
    on_runs: RunsHook | None = None,
    on_completed_runs: ReceivedHook | None = None,
) -> ProcessReport:
    """Work through the whole backlog of pending deliveries, batch by batch."""
    total = ProcessReport()
    while True:
        report = process(engine, limit=batch, on_runs=on_runs, on_completed_runs=on_completed_runs)
        for name in ("processed", "ignored", "failed", "retry"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if report.total in (0, report.retry):
            return total


def _unfinished_runs(normalized: Normalized | Exception, now: datetime) -> list[RunKey]:
    if isinstance(normalized, Exception):
        return []
    return [
        (fact.repository, fact.run_id, fact.attempt)
        for fact in normalized.facts
        if isinstance(fact, RunFact)
        and fact.status != "completed"
        and could_be_running(fact.status, fact.started_at or fact.created_at, now)
    ]


def _completes_runs(normalized: Normalized | Exception) -> bool:
    if isinstance(normalized, Exception):
        return False
    return any(isinstance(f, RunFact) and f.status == "completed" for f in normalized.facts)


def _normalize(row: Any) -> Normalized | Exception:
    """The delivery's facts, or why it cannot be normalized. Normalizing is pure, so whatever
    it raises is this payload's (a field of another type than GitHub documents, say): the
    delivery is marked failed with the reason, and the rest of the batch goes on."""
    try:
        return normalize(row.event, decode_body(row.content_type, row.body))
    except Exception as exc:  # noqa: BLE001 (one odd payload must not stop every batch it is in)
        return exc


def _write_one(
    conn: Connection,
    writer: FactWriter,
    row: Any,
    normalized: Normalized | Exception,
    who: str,
    report: ProcessReport,
) -> bool:
    """Write one delivery's facts in a savepoint; return whether they were written."""
    bound = log.bind(delivery=row.guid, event=row.event)
    if isinstance(normalized, Exception):
        bound.warning("delivery_unusable", error=str(normalized))
        _mark(conn, row.id, "failed", who, note=f"cannot normalize: {normalized!r}"[:2000])
        report.failed += 1
        return False
    try:
        with conn.begin_nested():
            for fact in normalized.facts:
                write_fact(writer, fact)
    except DBAPIError as exc:
        attempts = row.attempts + 1
        state = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        bound.warning("delivery_write_failed", error=str(exc.orig), attempts=attempts)
        _mark(conn, row.id, state, who, note=f"database: {exc.orig}"[:2000], attempts=attempts)
        report.failed += state == "failed"
        report.retry += state == "pending"
        return False
    _finish(conn, row.id, normalized, who)
    if normalized.ignored:
        report.ignored += 1
    else:
        report.processed += 1
    return True


def write_fact(writer: FactWriter, fact: Fact) -> None:
    """Persist one normalized fact with the writer."""
    match fact:
        case RunFact():
            writer.upsert_runs([fact])
        case JobDeliveryFact():
            writer.upsert_job(fact)
        case DeploymentStatusFact():
            writer.upsert_deployment_status(fact)
        case DeploymentFact():
            writer.upsert_deployment(fact)
        case PushFact():
            writer.upsert_push(fact)
        case PullRequestFact():
            writer.upsert_pull_request(fact)


def _finish(conn: Connection, delivery_id: int, normalized: Normalized, who: str) -> None:
    state = "ignored" if normalized.ignored else "processed"
    _mark(conn, delivery_id, state, who, note=normalized.note, parse=normalized.parse)


def _mark(
    conn: Connection,
    delivery_id: int,
    state: str,
    who: str,
    *,
    note: str | None = None,
    parse: str | None = None,
    attempts: int | None = None,
) -> None:
    values: dict[str, Any] = {
        "state": state,
        "note": note,
        "parse": parse,
        "processed_at": datetime.now(UTC) if state != "pending" else None,
        "processed_by": who,
    }
    if attempts is not None:
        values["attempts"] = attempts
    conn.execute(update(deliveries_t).where(deliveries_t.c.id == delivery_id).values(**values))


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A stored delivery as an operator lists it: which, when, and how processing ended."""

    guid: str
    event: str
    action: str | None
    received_at: datetime
    state: str
    attempts: int
    note: str | None


def stored_deliveries(
    conn: Connection, *, state: DeliveryState | None = None, limit: int = 50
) -> list[StoredDelivery]:
    """The newest stored deliveries (in ``state`` only, when given), newest first."""
    d = deliveries_t.c
    query = select(d.guid, d.event, d.action, d.received_at, d.state, d.attempts, d.note)
    if state is not None:
        query = query.where(d.state == state)
    rows = conn.execute(query.order_by(d.received_at.desc(), d.id.desc()).limit(limit))
    return [StoredDelivery(**row._mapping) for row in rows]


def retry_failed(conn: Connection, guids: Sequence[str] = (), event: str | None = None) -> int:
    """Failed deliveries (those named by ``guids``, else all, of ``event`` only when given) back
    to pending, their attempts from zero: the next processing (the worker's sweep, or
    ``process_all_pending``) normalizes them again, with the code running now. How many."""
    d = deliveries_t.c
    query = update(deliveries_t).where(d.state == "failed")
    if guids:
        query = query.where(d.guid.in_(list(guids)))
    if event is not None:
        query = query.where(d.event == event)
    values = {"state": "pending", "attempts": 0, "processed_at": None, "processed_by": None}
    return conn.execute(query.values(**values)).rowcount
