"""Backfill checkpoints: where an interrupted backfill of a repository resumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, select, update

from controltower.store.tables import BackfillCheckpoint, table_of
from controltower.store.upsert import insert_for

checkpoints_t = table_of(BackfillCheckpoint)
SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Plan:
    """The range a backfill of one repository covers, and where it starts in it."""

    repository: str
    since: datetime
    until: datetime
    start: datetime
    resumed: bool


def plan(
    engine: Engine, repository: str, since: datetime, until: datetime, *, restart: bool = False
) -> Plan:
    """Resume an unfinished backfill over the same ``since``, or continue after a finished one.

    Ranges are inclusive and in whole seconds, as GitHub's ``created=`` filter is.
    An unfinished checkpoint with the same ``since`` resumes after ``done_until``
    and keeps its ``until``. A finished one that began at or before ``since``
    continues from its ``until``, so running the same backfill again fetches only
    what is new. Anything else (or ``restart``) starts over at ``since``.
    """
    with engine.connect() as conn:
        row = conn.execute(
            select(checkpoints_t).where(checkpoints_t.c.repository == repository)
        ).one_or_none()
    fresh = Plan(repository, since, until, since, resumed=False)
    if row is None or restart:
        begin(engine, fresh)
        return fresh
    if row.finished_at is None and row.since == since:
        start = row.done_until + SECOND if row.done_until else row.since
        return Plan(repository, since, row.until, start, resumed=True)
    if row.finished_at is not None and row.since <= since < row.until < until:
        continued = Plan(repository, row.since, until, row.until + SECOND, resumed=True)
        begin(engine, continued, done_until=row.until)
        return continued
    begin(engine, fresh)
    return fresh


def begin(engine: Engine, p: Plan, done_until: datetime | None = None) -> None:
    """Record the start of a backfill over ``p``'s range."""
    now = datetime.now(UTC)
    values = {
        "repository": p.repository,
        "since": p.since,
        "until": p.until,
        "done_until": done_until,
        "runs": 0,
        "started_at": now,
        "updated_at": now,
        "finished_at": None,
    }
    with engine.begin() as conn:
        stmt = insert_for(conn, checkpoints_t).values(**values)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["repository"],
                set_={k: stmt.excluded[k] for k in values if k != "repository"},
            )
        )


def advance(conn: Connection, repository: str, done_until: datetime, runs: int) -> None:
    """Move the checkpoint past a completed window, in the caller's transaction."""
    conn.execute(
        update(checkpoints_t)
        .where(checkpoints_t.c.repository == repository)
        .values(
            done_until=done_until,
            runs=checkpoints_t.c.runs + runs,
            updated_at=datetime.now(UTC),
        )
    )


def finish(engine: Engine, repository: str) -> None:
    """Mark the backfill of ``repository`` complete."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(checkpoints_t)
            .where(checkpoints_t.c.repository == repository)
            .values(finished_at=now, updated_at=now)
        )
