"""Reading a metric series exported from elsewhere: CSV with ``timestamp,value`` per row.

A header row is optional. Timestamps are ISO 8601 (without an offset: UTC)
or Unix epoch seconds; values are numbers. Any row that is not so is refused
with its line number. Pure: no I/O.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime

from controltower.anomaly.model import Point
from controltower.errors import InvalidSeries


def parse_series(text: str) -> list[Point]:
    """The points of a CSV text; ``InvalidSeries`` names the first bad line."""
    return parse_series_as_given(text)[0]


def parse_series_as_given(text: str) -> tuple[list[Point], list[str]]:
    """The points of a CSV text and each one's timestamp as the file wrote it (answers give
    them back so, whatever their format)."""
    points, given = [], []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if number == 1 and [c.strip().lower() for c in row] == ["timestamp", "value"]:
            continue
        if len(row) != 2:
            raise InvalidSeries(
                f"line {number}: expected 2 columns timestamp,value, got {len(row)}"
            )
        points.append(Point(_timestamp(row[0].strip(), number), _value(row[1].strip(), number)))
        given.append(row[0].strip())
    if not points:
        raise InvalidSeries("no points: expected rows of timestamp,value")
    return points, given


def _timestamp(text: str, number: int) -> datetime:
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidSeries(f"line {number}: {text!r} is not a timestamp") from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _value(text: str, number: int) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise InvalidSeries(f"line {number}: {text!r} is not a number") from exc
    if not math.isfinite(value):
        raise InvalidSeries(f"line {number}: {text!r} is not a finite number")
    return value
