"""Timestamps as they arrive: ISO 8601 with an offset, ``Z``, or ``YYYY-MM-DD HH:MM:SS`` in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_timestamp(value: object) -> datetime | None:
    """A timezone-aware UTC datetime, or ``None`` for null/empty; ``ValueError`` otherwise.

    Timestamps without an offset are UTC, as the history format and GitHub's
    older payloads (``2018-04-25 20:42:10``) intend.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip())
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``+00:00``, or ``None``."""
    return value.astimezone(UTC).isoformat() if value is not None else None
