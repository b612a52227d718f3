"""Timestamps as they arrive: ISO 8601 with an offset, ``Z``, or ``YYYY-MM-DD HH:MM:SS`` in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_timestamp(value: object) -> datetime | None:
    """A timezone-aware UTC datetime, or ``None`` for null/empty; ``ValueError`` otherwise.

    Timestamps without an offset are UTC, as the history format and GitHub's
    older payloads (``2018-04-25 20:42:10``) intend. A moment outside the
    calendar's years 1 to 9999 (epoch seconds of 1e20, or the last hour of
    9999 at an offset west of UTC) is a ``ValueError`` too.
    """
    if value is None or value == "":
        return None
    try:
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
    except (OverflowError, OSError) as exc:
        raise ValueError(f"not a moment of the calendar: {value!r}") from exc


def format_timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``+00:00``, or ``None``."""
    return value.astimezone(UTC).isoformat() if value is not None else None
