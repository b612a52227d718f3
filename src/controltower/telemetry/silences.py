"""Silences: matchers and a time range during which the alerts they match notify nobody.

A silence matches an alert by glob patterns on its kind and repository
(``*`` matches anything, and an alert without a repository only matches
``*``; a repository in any case, as on GitHub: ``Octo/*`` matches
``octo/app``), and optionally by its rule's exact name and its exact key. While a
silence is active (``starts_at <= now < ends_at``) the alerts it matches are
still recorded and shown, marked silenced, but their notifications are
suppressed (``telemetry.suppression``). Silences are history: ending one
early sets ``ends_at`` (and ``expired_at``) to that moment, and nothing ever
deletes one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from sqlalchemy import Connection, insert, select, update

from controltower.errors import InvalidSilence, SilenceNotFound
from controltower.store.tables import Silence, table_of

silences_t = table_of(Silence)
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
LONGEST = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class StoredSilence:
    """One silence as the API, the CLI and the dashboard show it."""

    id: int
    kind: str
    repository: str
    rule: str | None
    key: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    expired_at: datetime | None

    def active(self, now: datetime) -> bool:
        """Whether the silence is in force at ``now``."""
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class Target:
    """What a silence is matched against: an alert's kind, repository, rule and key."""

    kind: str
    repository: str | None
    rule: str
    key: str


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    """A silence to create: matchers, when it ends (``ends_at`` or ``duration``), why, by whom."""

    reason: str
    created_by: str
    kind: str = "*"
    repository: str = "*"
    rule: str | None = None
    key: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration: timedelta | None = None


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1d``, ``1w`` or combinations (``1h30m``) as a timedelta."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not cleaned or _DURATION.sub("", cleaned).strip():
        raise InvalidSilence(f"duration {text!r}: use a number and a unit, e.g. 30m, 2h or 1d")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in parts)
    if seconds <= 0:
        raise InvalidSilence(f"duration {text!r} must be longer than zero")
    if seconds > LONGEST.total_seconds():
        raise InvalidSilence(f"a silence lasts at most {LONGEST.days} days, not {text!r}")
    return timedelta(seconds=seconds)


def covers(silence: StoredSilence, target: Target, now: datetime) -> bool:
    """Whether ``silence`` is active at ``now`` and matches ``target``."""
    if not silence.active(now):
        return False
    if silence.rule is not None and silence.rule != target.rule:
        return False
    if silence.key is not None and silence.key != target.key:
        return False
    if not fnmatchcase(target.kind, silence.kind):
        return False
    if target.repository is None:
        return silence.repository == "*"
    return fnmatchcase(target.repository.lower(), silence.repository.lower())


def covering(
    silences: Sequence[StoredSilence], target: Target, now: datetime
) -> StoredSilence | None:
    """The silence among ``silences`` that covers ``target`` and ends last, if any."""
    matching = [s for s in silences if covers(s, target, now)]
    return max(matching, key=lambda s: (s.ends_at, s.id), default=None)


def validated(request: SilenceRequest, now: datetime) -> tuple[datetime, datetime]:
    """When the silence requested starts and ends; ``InvalidSilence`` on anything unusable."""
    if not request.reason.strip():
        raise InvalidSilence("reason: say why the alerts are silenced")
    if not request.created_by.strip():
        raise InvalidSilence("created_by: say who silences them")
    if not request.kind.strip() or not request.repository.strip():
        raise InvalidSilence("kind and repository: give a glob pattern, * for any")
    if (request.ends_at is None) == (request.duration is None):
        raise InvalidSilence("give either an end time or a duration, not both or neither")
    starts = request.starts_at or now
    try:
        ends = request.ends_at or starts + (request.duration or timedelta())
    except OverflowError:
        raise InvalidSilence(f"the silence would end past the year 9999 ({starts})") from None
    if ends <= now:
        raise InvalidSilence(f"the silence would end in the past ({ends.isoformat()})")
    if ends <= starts:
        raise InvalidSilence(f"the silence must end after it starts ({starts.isoformat()})")
    if ends - starts > LONGEST:
        raise InvalidSilence("a silence lasts at most 366 days")
    return starts, ends


def create_silence(conn: Connection, request: SilenceRequest, now: datetime) -> StoredSilence:
    """Store the silence ``request`` describes (validated first: nothing is stored on refusal)."""
    starts, ends = validated(request, now)
    values = {
        "kind": request.kind.strip(),
        "repository": request.repository.strip(),
        "rule": request.rule or None,
        "key": request.key or None,
        "starts_at": starts,
        "ends_at": ends,
        "reason": request.reason.strip(),
        "created_by": request.created_by.strip(),
        "created_at": now,
        "expired_at": None,
    }
    new_id = conn.execute(insert(silences_t).values(**values)).inserted_primary_key
    assert new_id is not None
    return StoredSilence(id=int(new_id[0]), **values)  # type: ignore[arg-type]


def get_silence(conn: Connection, silence_id: int) -> StoredSilence:
    """The silence ``silence_id``; ``SilenceNotFound`` if there is none."""
    row = conn.execute(select(silences_t).where(silences_t.c.id == silence_id)).one_or_none()
    if row is None:
        raise SilenceNotFound(f"no silence {silence_id}")
    return StoredSilence(**row._asdict())


def expire_silence(conn: Connection, silence_id: int, now: datetime) -> StoredSilence:
    """End silence ``silence_id`` now (kept as history); one already over is left as it is."""
    silence = get_silence(conn, silence_id)
    if silence.ends_at <= now:
        return silence
    conn.execute(
        update(silences_t)
        .where(silences_t.c.id == silence_id)
        .values(ends_at=max(now, silence.starts_at), expired_at=now)
    )
    return get_silence(conn, silence_id)


def list_silences(
    conn: Connection, now: datetime, *, active_only: bool = False, limit: int = 100, offset: int = 0
) -> list[StoredSilence]:
    """Silences, those ending last first; ``active_only``: those in force or yet to start."""
    query = select(silences_t).order_by(silences_t.c.ends_at.desc(), silences_t.c.id.desc())
    if active_only:
        query = query.where(silences_t.c.ends_at > now)
    rows = conn.execute(query.limit(limit).offset(offset))
    return [StoredSilence(**row._asdict()) for row in rows]


def active_silences(conn: Connection, now: datetime) -> list[StoredSilence]:
    """The silences in force at ``now``."""
    return [s for s in list_silences(conn, now, active_only=True, limit=10_000) if s.active(now)]
