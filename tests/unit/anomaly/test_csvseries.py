"""Reading a metric series as monitoring tools and spreadsheets export it."""

from __future__ import annotations

import contextlib
import csv
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controltower.anomaly.csvseries import read_series
from controltower.errors import InvalidSeries


def test_rows_newest_first_are_sorted_and_keep_their_timestamps_as_written() -> None:
    series = read_series(
        "timestamp,value\n2026-03-02 00:02:00,3\n2026-03-02 00:01:00,2\n2026-03-02 00:00:00,1\n"
    )
    assert [p.value for p in series.points] == [1.0, 2.0, 3.0]
    assert series.given == ["2026-03-02 00:00:00", "2026-03-02 00:01:00", "2026-03-02 00:02:00"]
    assert series.points[0].timestamp == datetime(2026, 3, 2, tzinfo=UTC)


def test_any_header_a_byte_order_mark_and_semicolons_with_decimal_commas() -> None:
    series = read_series(
        "\ufefftime;p95_ms\n2026-03-02T00:00:00Z;1,5\n2026-03-02T00:01:00Z;2\n"
        "2026-03-02T00:02:00Z;1.234,5\n"
    )
    assert [p.value for p in series.points] == [1.5, 2.0, 1234.5]
    tabbed = read_series("when\tcpu\n2026-03-02T00:00:00Z\t40.5\n")
    assert [p.value for p in tabbed.points] == [40.5]


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("1772409600", datetime(2026, 3, 2, tzinfo=UTC)),
        ("1772409600000", datetime(2026, 3, 2, tzinfo=UTC)),
        ("20260302", datetime(2026, 3, 2, tzinfo=UTC)),
        ("2026-03-02T05:30:00+05:30", datetime(2026, 3, 2, tzinfo=UTC)),
    ],
)
def test_timestamps_in_the_forms_exporters_write(stamp: str, expected: datetime) -> None:
    assert read_series(f"{stamp},1\n").points[0].timestamp == expected


def test_rows_without_a_value_are_gaps_counted_not_errors() -> None:
    series = read_series(
        "timestamp,value\n1772409600,1\n1772409660,\n1772409720,NaN\n1772409780,null\n1772409840,4\n"
    )
    assert [p.value for p in series.points] == [1.0, 4.0]
    assert series.missing == 3


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("timestamp,value\n2026-03-02T00:00:00Z,abc\n", "line 2: 'abc' is not a number"),
        ("2026-03-02T00:00:00Z,abc\n", "line 1: 'abc' is not a number"),
        ("yesterday,1\n", "line 1: 'yesterday' is not a timestamp"),
        ("timestamp,value\n1772409600,inf\n", "line 2: 'inf' is not a finite number"),
        ("timestamp,value\n1772409600,\n", "no points"),
        ("a,b,c\n1,2,3\n", "line 1: expected 2 columns .* separated by a comma, got 3"),
    ],
)
def test_what_cannot_be_read_is_refused_with_its_line(text: str, reason: str) -> None:
    with pytest.raises(InvalidSeries, match=reason):
        read_series(text)


@st.composite
def exported(draw: st.DrawFn) -> tuple[str, list[tuple[datetime, float]]]:
    """A series as some exporter writes it: a timestamp form, a delimiter (with a decimal comma
    beside semicolons and tabs, as European spreadsheets write), a header or none, rows in any
    order; and the points it holds, oldest first."""
    count = draw(st.integers(1, 30))
    seconds = draw(
        st.lists(
            st.integers(946_684_800, 4_102_444_800), min_size=count, max_size=count, unique=True
        )
    )
    values = draw(
        st.lists(
            st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
            min_size=count,
            max_size=count,
        )
    )
    form = draw(st.sampled_from(["iso", "iso-z", "epoch", "epoch-ms", "date"]))
    if form == "date":  # one point a day: the rows' times at midnight
        seconds = sorted({s - s % 86_400 for s in seconds})
        values = values[: len(seconds)]
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    decimal_comma = delimiter != "," and draw(st.booleans())
    rows = []
    for second, value in zip(seconds, values, strict=True):
        moment = datetime.fromtimestamp(second, UTC)
        stamp = {
            "iso": moment.strftime("%Y-%m-%d %H:%M:%S"),
            "iso-z": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "epoch": str(second),
            "epoch-ms": str(second * 1000),
            "date": moment.strftime("%Y%m%d"),
        }[form]
        written = repr(value)
        if decimal_comma:
            written = written.replace(".", ",")
        rows.append(f"{stamp}{delimiter}{written}")
    order = draw(st.permutations(range(len(rows))))
    header = [f"time{delimiter}p95_ms"] if draw(st.booleans()) else []
    text = "\n".join(header + [rows[i] for i in order]) + "\n"
    points = sorted(
        (datetime.fromtimestamp(s, UTC), v) for s, v in zip(seconds, values, strict=True)
    )
    return text, points


@settings(max_examples=200, deadline=None)
@given(drawn=exported())
def test_a_series_reads_back_as_any_exporter_wrote_it(
    drawn: tuple[str, list[tuple[datetime, float]]],
) -> None:
    """Whatever the form of its timestamps, its delimiter and decimal mark, a header or none,
    and the order of its rows: the same points, oldest first, every value exact."""
    text, points = drawn
    series = read_series(text)
    assert [(p.timestamp, p.value) for p in series.points] == points
    assert series.missing == 0


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300))
def test_any_text_is_a_series_or_refused_with_a_reason(text: str) -> None:
    """Whatever a file holds: its points, or ``InvalidSeries`` saying what is wrong."""
    with contextlib.suppress(InvalidSeries):
        read_series(text)


def test_a_cell_past_the_csv_limit_is_refused_by_its_line() -> None:
    past = csv.field_size_limit() + 1  # the module's limit, or the import's larger one
    with pytest.raises(InvalidSeries, match="line 3: field larger than field limit"):
        read_series("2026-01-01,1\n2026-01-02,2\n" + "x" * past + ",1\n")
