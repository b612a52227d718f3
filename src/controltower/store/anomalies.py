"""Recorded anomalies: write them idempotently, resolve them when they end, read the active ones.

One row per anomaly, keyed by series, metric, kind and start, so recording
the same detection again updates ``last_seen_at`` (and what may have grown:
severity, observed value, score) instead of adding a row. A shift or drift
still going on that a later pass judges again as the other kind, or dated
from another start (the same alarm, the same way), is that row updated, its
verdict kept, not a new one beside it resolved. An active anomaly that a
later pass no longer detects is resolved (``resolved_at``); one seen again
afterwards is active again.

What people say of an anomaly is its **verdict** (``set_verdict``):
``confirmed``, a real change, or ``dismissed``, not one. Recording the same
anomaly again keeps it. A dismissed anomaly is left out of the active ones
(the overview, and the problems alerts come from), so its alert resolves;
confirmed ones are what ``anomaly evaluate`` knows to be present in the
stored series (``confirmed_anomalies``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from controltower.errors import AnomalyNotFound, InvalidVerdict
from controltower.store.tables import AnomalyRecord, table_of
from controltower.store.upsert import insert_for

anomalies_t = table_of(AnomalyRecord)
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_KEY = ("series", "metric", "kind", "started_at")
CHANGES = ("level_shift", "drift")
_UPDATED = ("severity", "detected_at", "expected", "observed", "score", "usd_per_month", "trigger")
VERDICTS = ("confirmed", "dismissed")
MAX_BY = 128


@dataclass(frozen=True, slots=True)
class StoredAnomaly:
    """One recorded anomaly, as the API and the dashboard show it."""

    id: int
    series: str
    metric: str
    unit: str
    kind: str
    severity: str
    started_at: datetime
    detected_at: datetime
    expected: float
    observed: float
    score: float
    usd_per_month: float | None
    trigger: dict[str, Any] | None
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    verdict: str | None = None
    verdict_by: str | None = None
    verdict_note: str | None = None
    verdict_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RecordReport:
    """What one recording pass did; ``past``: anomalies over before now, newly recorded."""

    seen: int
    new: int
    resolved: int
    past: int = 0


def record(
    conn: Connection,
    rows: Iterable[dict[str, Any]],
    now: datetime,
    past: Iterable[dict[str, Any]] = (),
    aged: Iterable[dict[str, Any]] = (),
) -> RecordReport:
    """Record the anomalies detected now; resolve the active ones not among them.

    Each row holds the columns of ``anomalies`` but the bookkeeping ones
    (``id``, ``first_seen_at``, ``last_seen_at``, ``resolved_at``).
    ``past`` are anomalies of the history that are over: recorded as
    resolved when not recorded yet, and otherwise left as they are (never
    made active again, their verdicts kept). ``aged``: shifts and drifts this
    pass still finds that are over by their age alone (not taken back, no
    return after them): those recorded are resolved as the others, and
    marked ``held`` until the next pass, which holds them (``open_changes``).
    """
    stored = conn.execute(select(anomalies_t)).all()
    before = {_key(r): r.id for r in stored}
    changes = {
        _change_of(r._asdict()): (r.id, _key(r))
        for r in stored
        if r.resolved_at is None and r.kind in CHANGES
    }  # the open shifts and drifts, by what makes them the same change whatever their kind
    seen: set[tuple[Any, ...]] = set()
    new = again = 0
    for row in rows:
        key = _key_of(row)
        if key in seen:
            continue
        seen.add(key)
        if key not in before and _judged_again(conn, row, changes, seen, now):
            again += 1
            continue
        new += key not in before
        values = {**row, "first_seen_at": now, "last_seen_at": now, "resolved_at": None}
        statement = insert_for(conn, anomalies_t).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={
                **{name: statement.excluded[name] for name in _UPDATED},
                "last_seen_at": now,
                "resolved_at": None,
            },
        )
        conn.execute(statement)
    ended = [
        r.id
        for r in conn.execute(
            select(anomalies_t.c.id, *[anomalies_t.c[name] for name in _KEY]).where(
                anomalies_t.c.resolved_at.is_(None)
            )
        )
        if _key(r) not in seen
    ]
    if ended:
        conn.execute(update(anomalies_t).where(anomalies_t.c.id.in_(ended)).values(resolved_at=now))
    still = [before[key] for key in map(_key_of, aged) if key in before and key not in seen]
    conn.execute(update(anomalies_t).where(anomalies_t.c.held).values(held=False))
    if still:
        conn.execute(update(anomalies_t).where(anomalies_t.c.id.in_(still)).values(held=True))
    recorded = 0
    for row in past:
        key = _key_of(row)
        if key in seen or key in before:
            continue
        seen.add(key)
        values = {**row, "first_seen_at": now, "last_seen_at": now, "resolved_at": now}
        statement = insert_for(conn, anomalies_t).values(values)
        conn.execute(statement.on_conflict_do_nothing(index_elements=list(_KEY)))
        recorded += 1
    seen_now = len(seen) - recorded - again  # a change judged again was seen under two keys
    return RecordReport(seen=seen_now, new=new, resolved=len(ended), past=recorded)


def active_anomalies(conn: Connection, limit: int = 20) -> list[StoredAnomaly]:
    """The anomalies not resolved nor dismissed, worst first and then newest, at most ``limit``."""
    rows = conn.execute(
        select(anomalies_t).where(anomalies_t.c.resolved_at.is_(None), _not_dismissed())
    )
    found = [_stored(row) for row in rows]
    found.sort(key=lambda a: (_SEVERITY_RANK.get(a.severity, 3), -a.detected_at.timestamp()))
    return found[:limit]


def count_active_anomalies(conn: Connection) -> int:
    """How many anomalies are neither resolved nor dismissed (all ``active_anomalies`` gives)."""
    active = anomalies_t.c.resolved_at.is_(None), _not_dismissed()
    count = select(func.count()).select_from(anomalies_t).where(*active)
    return int(conn.execute(count).scalar_one())


def recent_anomalies(
    conn: Connection,
    *,
    active_only: bool = False,
    verdict: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[StoredAnomaly]:
    """Recorded anomalies, newest detection first, a page of ``limit`` from ``offset``.

    ``active_only``: only the active ones, neither resolved nor dismissed (as
    ``active_anomalies``, newest first and unlimited); ``verdict``: only those with that
    verdict (``confirmed``, ``dismissed``), or ``none`` for those without one.
    """
    query = select(anomalies_t).order_by(anomalies_t.c.detected_at.desc(), anomalies_t.c.id)
    if active_only:
        query = query.where(anomalies_t.c.resolved_at.is_(None), _not_dismissed())
    if verdict == "none":
        query = query.where(anomalies_t.c.verdict.is_(None))
    elif verdict is not None:
        query = query.where(anomalies_t.c.verdict == verdict)
    page = query.limit(limit).offset(offset)
    return [_stored(row) for row in conn.execute(page)]


def anomalies_since(
    conn: Connection, since: datetime, scope: str | None = None, limit: int = 200
) -> list[StoredAnomaly]:
    """Anomalies, active or not, started at or after ``since``: the newest ``limit``, oldest first.

    Dismissed ones are left out: charts and reviews show real changes only.

    ``scope`` keeps those of one repository (``owner/name``) or one workflow
    (``owner/name · workflow``): the series named so, and the series under it.
    """
    query = select(anomalies_t).where(anomalies_t.c.started_at >= since, _not_dismissed())
    if scope is not None:
        pattern = scope.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            (anomalies_t.c.series == scope)
            | anomalies_t.c.series.like(pattern + " · %", escape="\\")
        )
    query = query.order_by(anomalies_t.c.started_at.desc(), anomalies_t.c.id.desc()).limit(limit)
    return [_stored(row) for row in conn.execute(query)][::-1]


def get_anomaly(conn: Connection, anomaly_id: int) -> StoredAnomaly:
    """One recorded anomaly; ``AnomalyNotFound`` if there is none with that id."""
    row = conn.execute(select(anomalies_t).where(anomalies_t.c.id == anomaly_id)).one_or_none()
    if row is None:
        raise AnomalyNotFound(f"no anomaly {anomaly_id}")
    return _stored(row)


def set_verdict(
    conn: Connection,
    anomaly_id: int,
    verdict: str | None,
    by: str | None,
    note: str | None,
    now: datetime,
) -> StoredAnomaly:
    """Say of anomaly ``anomaly_id`` that it is real (``confirmed``) or not (``dismissed``).

    ``None`` takes a verdict back. A verdict names who gives it; giving one
    again replaces who, why and when. ``InvalidVerdict`` (nothing changed)
    for another verdict or nobody named, ``AnomalyNotFound`` for an unknown id.
    """
    if verdict is not None and verdict not in VERDICTS:
        raise InvalidVerdict(f"verdict: one of {', '.join(VERDICTS)}, not {verdict!r}")
    who = (by or "").strip()
    if verdict is not None and not 0 < len(who) <= MAX_BY:
        raise InvalidVerdict(f"by: say who gives the verdict, in 1 to {MAX_BY} characters")
    get_anomaly(conn, anomaly_id)
    given = verdict is not None
    conn.execute(
        update(anomalies_t)
        .where(anomalies_t.c.id == anomaly_id)
        .values(
            verdict=verdict,
            verdict_by=who if given else None,
            verdict_note=((note or "").strip() or None) if given else None,
            verdict_at=now if given else None,
        )
    )
    return get_anomaly(conn, anomaly_id)


def confirmed_anomalies(conn: Connection) -> dict[tuple[str, str], list[datetime]]:
    """Per series and metric, when each anomaly confirmed as real was detected, oldest first."""
    query = (
        select(anomalies_t.c.series, anomalies_t.c.metric, anomalies_t.c.detected_at)
        .where(anomalies_t.c.verdict == "confirmed")
        .order_by(anomalies_t.c.detected_at, anomalies_t.c.id)
    )
    found: dict[tuple[str, str], list[datetime]] = {}
    for row in conn.execute(query):
        found.setdefault((row.series, row.metric), []).append(row.detected_at)
    return found


def open_changes(conn: Connection) -> dict[tuple[str, str], set[tuple[datetime, bool]]]:
    """Per series and metric, the shifts and drifts the next pass holds: those not resolved,
    and those over by their age that the last pass still found (``record``'s ``aged``,
    ``held``); when each was detected, and whether it was a rise.

    A change over by its age still shapes what follows it (no other its way is told within
    its window); were it no longer held, the pass after would judge it afresh and might date
    the same rise a few points later, going on again."""
    c = anomalies_t.c
    query = select(c.series, c.metric, c.detected_at, c.expected, c.observed).where(
        c.resolved_at.is_(None) | c.held, c.kind.in_(CHANGES)
    )
    found: dict[tuple[str, str], set[tuple[datetime, bool]]] = {}
    for row in conn.execute(query):
        rose = row.observed > row.expected
        found.setdefault((row.series, row.metric), set()).add((row.detected_at, rose))
    return found


def _judged_again(
    conn: Connection,
    row: dict[str, Any],
    changes: dict[tuple[Any, ...], tuple[int, Any]],
    seen: set[tuple[Any, ...]],
    now: datetime,
) -> bool:
    """Whether ``row``, a shift or drift not recorded before, is an open one judged again as
    the other kind or from another start (the same alarm, the same way): that row is
    updated in place, keeping its id, its first sighting and its verdict, instead of being
    resolved beside a new one. Its old key then counts as seen; a row still told as it was
    by this pass is left alone."""
    if row["kind"] not in CHANGES:
        return False
    found = changes.get(_change_of(row))
    if found is None or found[1] in seen:
        return False
    row_id, old_key = found
    del changes[_change_of(row)]
    seen.add(old_key)
    values = {name: row[name] for name in ("kind", "started_at", "unit", *_UPDATED)}
    conn.execute(
        update(anomalies_t)
        .where(anomalies_t.c.id == row_id)
        .values(**values, last_seen_at=now, resolved_at=None)
    )
    return True


def _change_of(row: dict[str, Any]) -> tuple[Any, ...]:
    """A shift or drift as a change: its series, metric, alarm and way (the next pass's
    ``told``)."""
    detected = row["detected_at"].replace(tzinfo=None)
    return (row["series"], row["metric"], detected, row["observed"] > row["expected"])


def _stored(row: Any) -> StoredAnomaly:
    """A row as shown: its bookkeeping for the next pass (``held``) left out."""
    values = row._asdict()
    values.pop("held", None)
    return StoredAnomaly(**values)


def _not_dismissed() -> Any:
    return anomalies_t.c.verdict.is_(None) | (anomalies_t.c.verdict != "dismissed")


def _key(row: Any) -> tuple[Any, ...]:
    return _key_of(row._asdict())


def _key_of(row: dict[str, Any]) -> tuple[Any, ...]:
    started = row["started_at"]
    return (row["series"], row["metric"], row["kind"], started.replace(tzinfo=None))
