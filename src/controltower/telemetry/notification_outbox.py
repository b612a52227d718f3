"""The outbox of alert notifications: each message owed to a channel URL, until it is delivered.

``Notifier`` keeps every message it is handed here before its first attempt
(``add``), and records each attempt: a failure with the time of the next one
(``failed``), ``delivered``, or ``given_up``. A message is claimed by the
process sending it until a while after its next attempt is due
(``claimed_until``); closing a notifier releases its claims (``release``), and
``claim`` hands a process every pending message no live process holds, so a
restart (or another worker, once a dead one's claims lapse) resumes the
retries where they stood. Before each attempt the sending process renews its
claim (``take``), and sends only if it still holds the message: once another
process has taken it up, only that one sends it.

An attempt's outcome (``failed``, ``delivered``, ``given_up``) is written only
while the row is still pending and claimed as the writer last claimed it: by
this process (``claimed_by``) and until the time it last set
(``claimed_until``, given as ``held_until``). A writer whose claim lapsed and
was taken up by another process (or released, or claimed again) changes
nothing, and hears so (``False``): the process that holds the message now
owns its state.

What health makes of the rows, per channel URL, is ``telemetry.delivery_health``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, insert, or_, select, update

from controltower.integrations.alert_messages import Message, message_document, message_of
from controltower.integrations.notify import Owed
from controltower.store.tables import NotificationOutbox, table_of

outbox_t = table_of(NotificationOutbox)
PENDING, DELIVERED, GIVEN_UP = "pending", "delivered", "given-up"


class StoredOutbox:
    """The outbox in the database of ``engine``, as one process (``owner``) uses it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.owner = uuid.uuid4().hex

    def add(
        self,
        entries: Sequence[tuple[str, str, str, Message]],
        now: datetime,
        claimed_until: datetime,
        conn: Connection | None = None,
    ) -> list[int]:
        """Keep each (channel, target, scheme, message), due now and claimed until
        ``claimed_until``, in the transaction of ``conn`` if given; their ids."""
        if conn is None:
            with self._engine.begin() as own:
                return self.add(entries, now, claimed_until, own)
        ids: list[int] = []
        for channel, target, scheme, message in entries:
            result = conn.execute(
                insert(outbox_t).values(
                    channel=channel[:64],
                    target=target,
                    scheme=scheme[:32],
                    message=message_document(message),
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    claimed_until=claimed_until,
                    claimed_by=self.owner,
                )
            )
            key = result.inserted_primary_key
            assert key is not None  # an insert of one row has its key
            ids.append(int(key[0]))
        return ids

    def failed(
        self,
        id_: int,
        attempts: int,
        error: str | None,
        at: datetime,
        next_at: datetime,
        claimed_until: datetime,
        *,
        held_until: datetime,
    ) -> bool:
        """An attempt failed; the next is due at ``next_at``, claimed until ``claimed_until``.
        Whether it was written: only while this process holds the row until ``held_until``."""
        return self._set(
            id_,
            held_until,
            attempts=attempts,
            error=error,
            last_attempt_at=at,
            next_attempt_at=next_at,
            claimed_until=claimed_until,
        )

    def delivered(self, id_: int, attempts: int, at: datetime, *, held_until: datetime) -> bool:
        """The receiver accepted it; whether it was written (as ``failed``)."""
        return self._finish(id_, held_until, DELIVERED, attempts, None, at)

    def given_up(
        self, id_: int, attempts: int, error: str | None, at: datetime, *, held_until: datetime
    ) -> bool:
        """No more attempts: refused for good, out of retries, or its URL is gone; whether it
        was written (as ``failed``)."""
        return self._finish(id_, held_until, GIVEN_UP, attempts, error, at)

    def release(self, ids: Sequence[int]) -> None:
        """Free this process's claims on ``ids`` (still pending): the next process to start
        resumes them."""
        if ids:
            with self._engine.begin() as conn:
                conn.execute(
                    update(outbox_t)
                    .where(
                        outbox_t.c.id.in_(list(ids)),
                        outbox_t.c.state == PENDING,
                        outbox_t.c.claimed_by == self.owner,
                    )
                    .values(claimed_until=None, claimed_by=None)
                )

    def take(self, id_: int, claimed_until: datetime) -> bool:
        """Whether this process still holds ``id_`` (pending), now until ``claimed_until``:
        false once another process has taken it up, which then sends it instead."""
        with self._engine.begin() as conn:
            taken = conn.execute(
                update(outbox_t)
                .where(
                    outbox_t.c.id == id_,
                    outbox_t.c.state == PENDING,
                    outbox_t.c.claimed_by == self.owner,
                )
                .values(claimed_until=claimed_until)
            ).rowcount
        return bool(taken == 1)

    def claim(self, now: datetime, lease_s: float, skip: Collection[int] = ()) -> list[Owed]:
        """Claim every pending message nobody holds (its claim released or lapsed), each until
        ``lease_s`` after its next attempt is due; those claimed, oldest first. ``skip``: the
        messages this process is sending or waiting on, whose claim stays as their attempt
        set it (claiming them again would make their outcome look stale)."""
        free = (outbox_t.c.state == PENDING) & or_(
            outbox_t.c.claimed_until.is_(None), outbox_t.c.claimed_until < now
        )
        owed: list[Owed] = []
        query = select(outbox_t).where(free).order_by(outbox_t.c.id)
        if skip:
            query = query.where(outbox_t.c.id.not_in(list(skip)))
        with self._engine.begin() as conn:
            rows = conn.execute(query).all()
            for row in rows:
                due = max(row.next_attempt_at or now, now)
                until = due + timedelta(seconds=lease_s)
                taken = conn.execute(
                    update(outbox_t)
                    .where(outbox_t.c.id == row.id, free)
                    .values(claimed_until=until, claimed_by=self.owner)
                ).rowcount
                if taken == 1:  # not claimed by another process meanwhile
                    owed.append(
                        Owed(
                            row.id,
                            row.channel,
                            row.target,
                            message_of(row.message),
                            row.attempts,
                            row.next_attempt_at or now,
                            until,
                        )
                    )
        return owed

    def _finish(
        self,
        id_: int,
        held_until: datetime,
        state: str,
        attempts: int,
        error: str | None,
        at: datetime,
    ) -> bool:
        return self._set(
            id_,
            held_until,
            state=state,
            attempts=attempts,
            error=error,
            last_attempt_at=at,
            finished_at=at,
            next_attempt_at=None,
            claimed_until=None,
            claimed_by=None,
        )

    def _set(self, id_: int, held_until: datetime, **values: object) -> bool:
        """Write ``values`` only while the row is pending and held by this process's claim
        until ``held_until``; whether it was."""
        held = (
            (outbox_t.c.id == id_)
            & (outbox_t.c.state == PENDING)
            & (outbox_t.c.claimed_by == self.owner)
            & (outbox_t.c.claimed_until == held_until)
        )
        with self._engine.begin() as conn:
            written = conn.execute(update(outbox_t).where(held).values(**values)).rowcount
        return bool(written == 1)


def pending(conn: Connection) -> int:
    """How many messages are still owed (waiting for their first attempt or a retry)."""
    query = select(func.count()).select_from(outbox_t).where(outbox_t.c.state == PENDING)
    return int(conn.execute(query).scalar_one())
