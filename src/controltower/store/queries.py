"""Read queries over the fact tables shared by the API, the pages and the CLI."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, func, select

from controltower.store.tables import Delivery, Repository, Workflow, WorkflowRun, table_of

runs_t, repos_t, workflows_t = table_of(WorkflowRun), table_of(Repository), table_of(Workflow)
deliveries_t = table_of(Delivery)


def repository_named(name: str) -> ColumnElement[bool]:
    """The condition that a repository row (``repositories``) is the one called ``name``.

    GitHub treats owner and name case-insensitively (``Pallets/Flask`` is
    ``pallets/flask``), so the comparison ignores case, on SQLite and on
    PostgreSQL alike (both sides lower-cased: GitHub's names are ASCII). Every lookup of
    a repository by a name someone typed goes through here; the name shown is
    the one stored.
    """
    return func.lower(repos_t.c.full_name) == name.lower()


def repositories_named(names: Collection[str]) -> ColumnElement[bool]:
    """The condition that a repository row is one of ``names``, case ignored."""
    return func.lower(repos_t.c.full_name).in_(sorted({name.lower() for name in names}))


@dataclass(frozen=True, slots=True)
class RunSelection:
    """Which stored run attempts to take: one repository's (case ignored), created from
    ``since`` (included) until ``until`` (excluded, so that consecutive periods do not
    overlap); ``None`` leaves that side open.

    A date bound leaves out the runs not known beyond a job yet (no creation time).
    """

    repository: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The conditions on ``workflow_runs`` (joined to ``repositories``) that select them."""
        found: list[ColumnElement[bool]] = []
        if self.repository is not None:
            found.append(repository_named(self.repository))
        if self.since is not None:
            found.append(runs_t.c.created_at >= self.since)
        if self.until is not None:
            found.append(runs_t.c.created_at < self.until)
        return found


def stored_repository(conn: Connection, name: str) -> str | None:
    """The repository called ``name`` as it is stored (``pallets/flask`` for ``Pallets/Flask``),
    or ``None`` when none is.

    Where a name typed by someone becomes a key (a page's title, a series, a
    cache, a serving query), it is first resolved here to the stored spelling.
    """
    stored: str | None = conn.execute(
        select(repos_t.c.full_name).where(repository_named(name)).order_by(repos_t.c.id).limit(1)
    ).scalar_one_or_none()
    return stored


@dataclass(frozen=True, slots=True)
class RunRow:
    """A run attempt as listed: enough to show it and link to it."""

    id: int
    repository: str
    workflow: str
    run_id: str
    attempt: int
    run_number: int | None
    event: str | None
    branch: str | None
    actor: str | None
    status: str
    conclusion: str | None
    created_at: datetime | None
    duration_s: float | None
    source: str


def recent_runs(
    conn: Connection,
    *,
    limit: int = 50,
    repository: str | None = None,
    workflow_id: int | None = None,
    branch: str | None = None,
    event: str | None = None,
    within: tuple[datetime, datetime] | None = None,
) -> list[RunRow]:
    """The most recently created run attempts, newest first, optionally narrowed (``within``:
    created in that period, its end excluded).

    Ordered as the ``created_at`` index runs (backwards), so the newest are
    found without sorting the table; a run not known beyond a job yet (no
    creation time) is not listed.
    """
    query = (
        select(
            runs_t.c.id,
            repos_t.c.full_name,
            workflows_t.c.name,
            runs_t.c.run_id,
            runs_t.c.attempt,
            runs_t.c.run_number,
            runs_t.c.event,
            runs_t.c.branch,
            runs_t.c.actor,
            runs_t.c.status,
            runs_t.c.conclusion,
            runs_t.c.created_at,
            runs_t.c.duration_s,
            runs_t.c.source,
        )
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .join(workflows_t, workflows_t.c.id == runs_t.c.workflow_id)
        .where(runs_t.c.created_at.is_not(None))
        .order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc())
        .limit(limit)
    )
    if repository is not None:
        query = query.where(repository_named(repository))
    if workflow_id is not None:
        query = query.where(runs_t.c.workflow_id == workflow_id)
    if branch is not None:
        query = query.where(runs_t.c.branch == branch)
    if event is not None:
        query = query.where(runs_t.c.event == event)
    if within is not None:
        query = query.where(runs_t.c.created_at >= within[0], runs_t.c.created_at < within[1])
    return [RunRow(*row) for row in conn.execute(query)]  # type: ignore[call-arg]


def count_runs(conn: Connection) -> int:
    """How many run attempts are stored."""
    return int(conn.execute(select(func.count()).select_from(runs_t)).scalar_one())


def delivery_states(conn: Connection, only: Sequence[str] | None = None) -> dict[str, int]:
    """How many deliveries are in each state (or in each of ``only``, by the state index alone).

    With ``only`` (say pending and failed, a health check's backlog) the count
    reads just those states' entries of ``ix_deliveries_state_id``, not the
    millions of processed deliveries a long-running installation keeps.
    """
    query = select(deliveries_t.c.state, func.count()).group_by(deliveries_t.c.state)
    if only is not None:
        query = query.where(deliveries_t.c.state.in_(list(only)))
    return {state: int(count) for state, count in conn.execute(query)}


def last_delivery_at(conn: Connection) -> datetime | None:
    """When the newest delivery arrived (ids grow with arrival: a primary-key lookup)."""
    received: datetime | None = conn.execute(
        select(deliveries_t.c.received_at).order_by(deliveries_t.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    return received
