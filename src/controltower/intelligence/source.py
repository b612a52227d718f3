"""The stored run history, read as ``HistoryRun`` values for training, evaluation and serving."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam, func, or_, select

from controltower.domain import could_be_running
from controltower.intelligence.records import HistoryRun
from controltower.store.tables import Repository, Workflow, WorkflowRun, table_of

BATCH = 20_000
runs_t, repos_t, workflows_t = table_of(WorkflowRun), table_of(Repository), table_of(Workflow)


def _history_query() -> Select[Any]:
    c = runs_t.c
    return (
        select(
            repos_t.c.full_name,
            workflows_t.c.name,
            c.run_id,
            c.attempt,
            c.run_number,
            c.event,
            c.branch,
            c.actor,
            c.head_sha,
            c.pull_request,
            c.status,
            c.conclusion,
            c.created_at,
            c.started_at,
            c.completed_at,
            c.duration_s,
            c.files_changed,
            c.lines_added,
            c.lines_deleted,
            c.commits,
        )
        .join(repos_t, repos_t.c.id == c.repository_id)
        .join(workflows_t, workflows_t.c.id == c.workflow_id)
    )


def history_query() -> Select[Any]:
    """The query of run attempts as ``HistoryRun`` columns (see ``history_run``)."""
    return _history_query()


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _history_run(row: Any) -> HistoryRun:
    return HistoryRun(
        repository=row[0],
        workflow=row[1],
        run_id=row[2],
        attempt=row[3],
        run_number=row[4],
        event=row[5],
        branch=row[6],
        actor=row[7],
        head_sha=row[8],
        pull_request=row[9],
        status=row[10],
        conclusion=row[11],
        created=_epoch(row[12]),
        started=_epoch(row[13]),
        completed=_epoch(row[14]),
        duration_s=row[15],
        files_changed=row[16],
        lines_added=row[17],
        lines_deleted=row[18],
        commits=row[19],
    )


def history_run(row: Any) -> HistoryRun:
    """The ``HistoryRun`` of a row of ``history_query``."""
    return _history_run(row)


def stored_history(engine: Engine, repository: str | None = None) -> Iterator[HistoryRun]:
    """Every stored run attempt (of one repository, if named)."""
    query = _history_query()
    if repository is not None:
        query = query.where(repos_t.c.full_name == repository)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=BATCH).execute(query):
            yield _history_run(row)


def repository_history(
    conn: Connection, repository: str, until: datetime | None = None
) -> list[HistoryRun]:
    """The stored run attempts of ``repository`` requested at or before ``until`` (or all).

    Runs with no request time are kept: the request order places them by number.
    """
    query = _history_query().where(repos_t.c.full_name == repository)
    if until is not None:
        created = runs_t.c.created_at
        query = query.where(or_(created.is_(None), created <= until))
    return [_history_run(row) for row in conn.execute(query)]


def _delta_query() -> Select[Any]:
    pk = runs_t.c.id
    repository_id = select(repos_t.c.id).where(repos_t.c.full_name == bindparam("repository"))
    # "+ 0" keeps SQLite from walking the repository's index: the primary key range
    # and the listed keys find the few rows wanted whatever the history's size.
    return (
        _history_query()
        .add_columns(pk)
        .where((runs_t.c.repository_id + 0) == repository_id.scalar_subquery())
        .where(or_(pk > bindparam("after"), pk.in_(bindparam("pks", expanding=True))))
    )


# Built once: serving runs these on every prediction.
_DELTA = _delta_query()
_ALL = (
    _history_query().add_columns(runs_t.c.id).where(repos_t.c.full_name == bindparam("repository"))
)
_KEY = (
    select(repos_t.c.full_name, runs_t.c.run_id, runs_t.c.attempt, runs_t.c.created_at)
    .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
    .where(runs_t.c.id == bindparam("pk"))
)


def history_rows(
    conn: Connection, repository: str, *, after: int | None = None, pks: Collection[int] = ()
) -> list[tuple[int, HistoryRun]]:
    """Stored run attempts of ``repository`` with their primary keys: all of them, or those
    with a key above ``after`` and those in ``pks``."""
    if after is None:
        result = conn.execute(_ALL, {"repository": repository})
    else:
        result = conn.execute(_DELTA, {"repository": repository, "after": after, "pks": list(pks)})
    return [(row[20], _history_run(row)) for row in result]


def run_key(conn: Connection, run_pk: int) -> tuple[str, str, int, datetime | None] | None:
    """Repository, run id, attempt and request time of the stored run ``run_pk``."""
    row = conn.execute(_KEY, {"pk": run_pk}).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


def run_pk_of(conn: Connection, repository: str, run_id: str, attempt: int) -> int | None:
    """The primary key of a stored run attempt, or None."""
    pk: int | None = conn.execute(
        select(runs_t.c.id)
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .where(
            repos_t.c.full_name == repository,
            runs_t.c.run_id == run_id,
            runs_t.c.attempt == attempt,
        )
    ).scalar_one_or_none()
    return pk


def unfinished_runs(conn: Connection, now: datetime) -> list[tuple[str, str, int]]:
    """Repository, run id and attempt of every stored run attempt that can still be going on
    at ``now`` (``domain.could_be_running``): not one GitHub reported unfinished long ago."""
    rows = conn.execute(
        select(
            repos_t.c.full_name,
            runs_t.c.run_id,
            runs_t.c.attempt,
            runs_t.c.status,
            func.coalesce(runs_t.c.started_at, runs_t.c.created_at),
        )
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .where(runs_t.c.status != "completed")
        .order_by(runs_t.c.id)
    )
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows if could_be_running(r[3], r[4], now)]
