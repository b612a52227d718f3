"""Reading a metric series exported from elsewhere: CSV with ``timestamp,value`` per row.

What spreadsheets and monitoring exports write is read as they mean it:

- a first row that is neither a timestamp nor a number (``time,p95_ms``) is
  a header, whatever it names;
- the cells may be separated by commas, semicolons or tabs (the first row
  says which); with semicolons or tabs, a decimal comma (``1,5``, ``1.234,5``)
  is a number;
- timestamps are ISO 8601 (without an offset: UTC), ``YYYYMMDD``, or Unix
  epoch seconds or milliseconds (13 digits, as JavaScript and many exporters
  write them);
- a row without a value (empty, ``NaN``, ``null``, ``NA``) is a missing
  sample: left out and counted, a gap in the series;
- rows may come in any order (newest first, as many exports list them); the
  points are sorted by time, each keeping its timestamp as the file wrote it.

Any other row is refused with its line number. Pure: no I/O.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from controltower.anomaly.model import Point
from controltower.errors import InvalidSeries

DELIMITERS = (";", "\t", ",")
"""Tried in this order on the first row: a semicolon or tab file may hold decimal commas."""
MISSING = frozenset({"", "nan", "null", "none", "na", "n/a", "-"})
"""Values that mean no sample was taken."""
EPOCH_MILLISECONDS = 1e11
"""Numeric timestamps from here up are milliseconds (as seconds: the year 5138)."""


@dataclass(frozen=True, slots=True)
class CsvSeries:
    """The points of a file, oldest first, and each one's timestamp as the file wrote it."""

    points: list[Point]
    given: list[str]
    missing: int
    """Rows without a value, left out."""


def read_series(text: str) -> CsvSeries:
    """The series of a CSV text; ``InvalidSeries`` names the first bad line."""
    text = text.removeprefix("\ufeff")  # a byte order mark, as Excel writes UTF-8
    delimiter = _delimiter(text)
    rows: list[tuple[Point, str]] = []
    missing = 0
    first = True
    for number, row in enumerate(_rows(text, delimiter), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise InvalidSeries(
                f"line {number}: expected 2 columns timestamp,value"
                f" separated by {_name(delimiter)}, got {len(row)}"
            )
        stamp_text, value_text = row[0].strip(), row[1].strip()
        if first and _is_header(stamp_text, value_text, delimiter):
            first = False
            continue
        first = False
        stamp = _timestamp(stamp_text, number)
        value = _value(value_text, number, delimiter)
        if value is None:
            missing += 1
            continue
        rows.append((Point(stamp, value), stamp_text))
    if not rows:
        raise InvalidSeries("no points: expected rows of timestamp,value")
    rows.sort(key=lambda row: row[0].timestamp)  # stable: equal times keep the file's order
    return CsvSeries([p for p, _ in rows], [g for _, g in rows], missing)


def _rows(text: str, delimiter: str) -> Iterator[list[str]]:
    """The rows of ``text``; ``InvalidSeries`` where it is no CSV (a cell past the csv module's
    field limit, say)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        yield from reader
    except csv.Error as exc:
        raise InvalidSeries(f"line {reader.line_num}: {exc}") from exc


def _delimiter(text: str) -> str:
    line = next((line for line in text.splitlines() if line.strip()), "")
    for delimiter in DELIMITERS:
        if len(next(csv.reader([line], delimiter=delimiter), [])) == 2:
            return delimiter
    return ","


def _name(delimiter: str) -> str:
    return {",": "a comma", ";": "a semicolon", "\t": "a tab"}[delimiter]


def _is_header(stamp_text: str, value_text: str, delimiter: str) -> bool:
    """Neither a timestamp nor a value: names of the columns."""
    for read in (lambda: _timestamp(stamp_text, 1), lambda: _value(value_text, 1, delimiter)):
        try:
            read()
        except InvalidSeries:
            continue
        return False
    return True


def _timestamp(text: str, number: int) -> datetime:
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if len(text) == 8 and text.isdigit():  # 20260301
            try:
                return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC)
            except ValueError:
                pass
        if seconds >= EPOCH_MILLISECONDS:
            seconds /= 1000.0
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise InvalidSeries(f"line {number}: {text!r} is not a timestamp") from exc
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidSeries(
            f"line {number}: {text!r} is not a timestamp"
            " (ISO 8601, YYYYMMDD, or Unix seconds or milliseconds)"
        ) from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _value(text: str, number: int, delimiter: str) -> float | None:
    if text.lower() in MISSING:
        return None
    # 1,5 or 1.234,5 in a semicolon file: a decimal comma, with points between thousands
    if delimiter != "," and "," in text and text.rfind(".") < text.find(","):
        text = text.replace(".", "").replace(",", ".")
    try:
        value = float(text)
    except ValueError as exc:
        raise InvalidSeries(f"line {number}: {text!r} is not a number") from exc
    if math.isnan(value):
        return None
    if not math.isfinite(value):
        raise InvalidSeries(f"line {number}: {text!r} is not a finite number")
    return value
