"""The notification outbox's claims on SQLite and PostgreSQL: an outcome is written only by
the process that holds the message, as it last claimed it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from controltower.integrations.alert_messages import Message, Notification
from controltower.store.tables import NotificationOutbox, table_of
from controltower.telemetry.notification_outbox import StoredOutbox

outbox_t = table_of(NotificationOutbox)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MESSAGE = Message((Notification("k", "firing", "critical", "t", "d", NOW),))


def _row(engine: Engine, id_: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(outbox_t).where(outbox_t.c.id == id_)).one()


def _taken_over(engine: Engine) -> tuple[StoredOutbox, StoredOutbox, int, datetime, datetime]:
    """A message kept by ``stale`` (claimed until a minute on), whose claim lapsed and which
    ``holder`` claimed two minutes on; both outboxes, its id and each one's claim."""
    stale, holder = StoredOutbox(engine), StoredOutbox(engine)
    stale_until = NOW + timedelta(minutes=1)
    (id_,) = stale.add([("slack", "t", "json", MESSAGE)], NOW, stale_until)
    (owed,) = holder.claim(NOW + timedelta(minutes=2), 60.0)
    return stale, holder, id_, stale_until, owed.claimed_until


def test_a_stale_outcome_leaves_the_holders_state_as_it_wrote_it(engine: Engine) -> None:
    """Its claim taken over, the first process's failure, delivery or giving up writes
    nothing and says so; the holder's own outcomes are written."""
    stale, holder, id_, stale_until, held_until = _taken_over(engine)
    failed_at, next_at = NOW + timedelta(minutes=2), NOW + timedelta(minutes=3)
    claim = next_at + timedelta(minutes=1)
    assert holder.failed(id_, 1, "HTTP 503", failed_at, next_at, claim, held_until=held_until)
    before = _row(engine, id_)
    late = NOW + timedelta(minutes=2, seconds=30)
    assert not stale.delivered(id_, 1, late, held_until=stale_until)
    assert not stale.given_up(id_, 1, "HTTP 400", late, held_until=stale_until)
    assert not stale.failed(id_, 1, "HTTP 500", late, late, late, held_until=stale_until)
    assert _row(engine, id_) == before
    assert (before.state, before.error, before.claimed_by) == ("pending", "HTTP 503", holder.owner)
    assert holder.delivered(id_, 2, next_at, held_until=claim)
    row = _row(engine, id_)
    assert (row.state, row.attempts, row.error, row.claimed_by) == ("delivered", 2, None, None)


def test_an_outcome_under_a_claim_since_renewed_or_released_is_refused(engine: Engine) -> None:
    """The same process's outcome counts only under the claim it last set: after renewing
    (``take``) the old claim time is refused; once released, nothing of it is written."""
    outbox = StoredOutbox(engine)
    first = NOW + timedelta(minutes=1)
    (id_,) = outbox.add([("slack", "t", "json", MESSAGE)], NOW, first)
    renewed = NOW + timedelta(minutes=2)
    assert outbox.take(id_, renewed)
    assert not outbox.delivered(id_, 1, NOW, held_until=first)
    assert _row(engine, id_).state == "pending"
    outbox.release([id_])
    assert not outbox.delivered(id_, 1, NOW, held_until=renewed)
    assert (_row(engine, id_).state, _row(engine, id_).claimed_by) == ("pending", None)


def test_a_lapsed_claim_nobody_took_up_still_records_its_outcome(engine: Engine) -> None:
    """Past its claim but not taken over, the row is still the process's own: its delivery is
    recorded, so nobody sends the message again."""
    outbox = StoredOutbox(engine)
    until = NOW + timedelta(minutes=1)
    (id_,) = outbox.add([("slack", "t", "json", MESSAGE)], NOW, until)
    assert outbox.delivered(id_, 1, NOW + timedelta(minutes=5), held_until=until)
    assert _row(engine, id_).state == "delivered"


def test_claiming_leaves_out_the_messages_the_process_is_sending(engine: Engine) -> None:
    """A message this process is still sending keeps the claim its attempt set, though it
    lapsed: claiming it again would make that attempt's outcome look stale."""
    outbox = StoredOutbox(engine)
    until = NOW + timedelta(minutes=1)
    ids = outbox.add([("slack", "t", "json", MESSAGE)] * 2, NOW, until)
    later = NOW + timedelta(minutes=5)
    (owed,) = outbox.claim(later, 60.0, skip={ids[0]})
    assert owed.id == ids[1]
    assert owed.claimed_until == later + timedelta(minutes=1)
    assert outbox.delivered(ids[0], 1, later, held_until=until)
    assert outbox.delivered(ids[1], 1, later, held_until=owed.claimed_until)
