"""Feature state kept per repository between predictions, so one prediction reads only what changed.

Serving a run needs the features its repository's history gives at its
request (``features.RepositoryHistory``). Replaying the whole stored history
for each prediction grows with the history; ``FeatureState`` keeps one
``RepositoryHistory`` per database and repository in process (the least
recently used dropped) and, for each prediction, reads only the rows stored
since (a greater primary key) and the rows of runs whose completion it still
holds back, and gives the row the full replay over the stored history gives:

- a new run requested after every run taken in is requested in order, and
  the rows of the runs taken in last are kept for their predictions;
- a held-back run that changed (it completed) replaces its entry; a new run
  requested earlier than the last one joins the held-back runs. Either is
  only exact while its completion is not due before the last request (it
  would have been taken in already, in another order): otherwise the state is
  rebuilt by a full replay, as it is when a held-back run was deleted;
- what no cheap read shows (a run corrected after its completion was taken in,
  old runs deleted by retention) is seen when the state is rebuilt: at least
  every ``MAX_AGE_S``, and at once in the process that applied retention;
- a repository with a run lacking ``created_at`` is ordered by run number as
  a whole and is not kept: its runs are replayed in full.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import Connection

from controltower.intelligence.features import RepositoryHistory
from controltower.intelligence.records import HistoryRun, RequestKey, known_at, request_key
from controltower.intelligence.source import history_rows

MAX_REPOSITORIES = 256
MAX_AGE_S = 600.0
KEPT_ROWS = 64
Row = list[float]
Pending = list[tuple[float, int, HistoryRun]]


@dataclass(slots=True)
class _Entry:
    """One repository's state, and what is needed to bring it up to date."""

    history: RepositoryHistory = field(default_factory=RepositoryHistory)
    last: RequestKey | None = None
    max_pk: int = 0
    held: dict[int, tuple[int, float]] = field(default_factory=dict)  # queue place: pk, request
    joined: set[int] = field(default_factory=set)  # places given out of request order
    rows: dict[tuple[str, int], Row] = field(default_factory=dict)
    built: float = field(default_factory=time.monotonic)

    def take(self, pk: int, run: HistoryRun, *, keep: bool = True) -> None:
        """Request ``run`` (later than every run taken in) and keep its row."""
        assert run.created is not None
        place = self.history.requests
        row = self.history.request(run, run.created)
        self.held[place] = (pk, run.created)
        if keep:
            self.rows[(run.run_id, run.attempt)] = row
        self.last = request_key(run)


class FeatureState:
    """Per-repository ``RepositoryHistory`` values brought up to date from the database."""

    def __init__(
        self, max_repositories: int = MAX_REPOSITORIES, max_age_s: float = MAX_AGE_S
    ) -> None:
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_repositories
        self._max_age = max_age_s
        self.rebuilds = 0

    def clear(self) -> None:
        """Forget every repository's state."""
        with self._lock:
            self._entries.clear()

    def row(self, conn: Connection, repository: str, run_id: str, attempt: int) -> Row | None:
        """The feature row of a stored run at its request, or None where a full replay must tell."""
        with self._lock:
            entry = self._current(conn, repository)
            return None if entry is None else entry.rows.get((run_id, attempt))

    def hypothetical_row(self, conn: Connection, run: HistoryRun) -> Row | None:
        """The feature row of ``run``, not stored, requested at ``run.created``, or None."""
        with self._lock:
            entry = self._current(conn, repository=run.repository)
            now = run.created
            if entry is None or now is None or now <= entry.history.last_request:
                return None
            return entry.history.peek(run, now)

    def _current(self, conn: Connection, repository: str) -> _Entry | None:
        key = (conn.engine.url.render_as_string(hide_password=True), repository)
        entry = self._entries.get(key)
        if entry is not None and (
            time.monotonic() - entry.built > self._max_age
            or not _bring_up_to_date(conn, repository, entry)
        ):
            entry = None
        if entry is None:
            self.rebuilds += 1
            entry = _build(conn, repository)
            if entry is None:
                self._entries.pop(key, None)
                return None
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return entry


def _build(conn: Connection, repository: str) -> _Entry | None:
    rows = history_rows(conn, repository)
    if not rows or any(run.created is None for _, run in rows):
        return None
    rows.sort(key=lambda pr: request_key(pr[1]))
    entry = _Entry(max_pk=max(pk for pk, _ in rows))
    for i, (pk, run) in enumerate(rows):
        entry.take(pk, run, keep=i >= len(rows) - KEPT_ROWS)
    return entry


def _bring_up_to_date(conn: Connection, repository: str, entry: _Entry) -> bool:
    """Take in what changed since; False when only a rebuild gives the exact state."""
    places = {place for _, place, _ in entry.history.pending}
    entry.held = {place: v for place, v in entry.held.items() if place in places}
    entry.joined &= places
    held = {pk for pk, _ in entry.held.values()}
    rows = history_rows(conn, repository, after=entry.max_pk, pks=held)
    if not held <= {pk for pk, _ in rows}:
        return False
    fresh = sorted(
        ((pk, run) for pk, run in rows if pk > entry.max_pk), key=lambda pr: request_key(pr[1])
    )
    revised = _revise(entry, {pk: run for pk, run in rows if pk <= entry.max_pk})
    if revised is None or any(run.created is None for _, run in fresh):
        return False
    if not revised and not fresh:
        return True
    entry.rows = {}
    assert entry.last is not None
    late = [(pk, run) for pk, run in fresh if request_key(run) < entry.last]
    if not all(_join(entry, pk, run) for pk, run in late):
        return False
    for pk, run in fresh:
        if request_key(run) > entry.last:
            entry.take(pk, run)
    entry.max_pk = max([entry.max_pk, *(pk for pk, _ in fresh)])
    return True


def _revise(entry: _Entry, changed: dict[int, HistoryRun]) -> bool | None:
    """Replace held-back runs that changed: whether any did, None if the order would differ."""
    history = entry.history
    pending: Pending = []
    revised = False
    for due, place, run in history.pending:
        pk, requested = entry.held.get(place, (0, 0.0))
        new = changed.get(pk)
        if new is None or new == run:
            pending.append((due, place, run))
            continue
        if request_key(new) != request_key(run):
            return None
        pending.append((known_at(new, requested), place, new))
        revised = True
    if not revised:
        return False
    if not _in_order(pending, history.last_request, entry.joined):
        return None
    heapq.heapify(pending)
    history.pending = pending
    return True


def _join(entry: _Entry, pk: int, run: HistoryRun) -> bool:
    """Hold back a run requested before the last one taken in, if that is exact."""
    assert run.created is not None
    history = entry.history
    due = known_at(run, run.created)
    if due < history.last_request or any(d == due for d, _, _ in history.pending):
        return False
    place = history.wait_for(run, run.created)
    entry.held[place] = (pk, run.created)
    entry.joined.add(place)
    return True


def _in_order(pending: Pending, last_request: float, joined: set[int]) -> bool:
    """No held-back completion was due before the last request, and none held back out of
    request order shares its finite time with another (their order would be arbitrary)."""
    if any(due < last_request for due, _, _ in pending):
        return False
    out_of_order = {due for due, place, _ in pending if place in joined and math.isfinite(due)}
    if not out_of_order:
        return True
    dues = [due for due, _, _ in pending if due in out_of_order]
    return len(dues) == len(out_of_order)
