"""The interchange format: what a record must be, and the round trip through export."""

from __future__ import annotations

from typing import Any

import pytest

from controltower.errors import RecordRejected
from controltower.ingest.history import format_record, parse_record

GOOD: dict[str, Any] = {
    "repository": "octo/repo",
    "run_id": 17,
    "run_attempt": 2,
    "workflow": "CI",
    "event": "push",
    "conclusion": "failure",
    "created_at": "2025-01-01 10:00:00",
    "started_at": "2025-01-01T10:00:05Z",
    "completed_at": "2025-01-01T10:03:05+00:00",
    "files_changed": 3,
    "reviewers": ["a"],
    "jobs": [
        {
            "name": "test",
            "conclusion": "failure",
            "started_at": "2025-01-01T10:00:05Z",
            "completed_at": "2025-01-01T10:03:00Z",
            "steps": [{"name": "pytest", "number": 1, "conclusion": "failure"}],
        },
        {"name": "test", "conclusion": "success"},
    ],
}


def test_a_good_record_parses_with_derived_duration_and_extra_fields() -> None:
    """Offset-less timestamps are UTC, duration comes from timestamps, unknowns go to extra."""
    fact = parse_record(GOOD).fact
    assert fact.run_id == "17"
    assert fact.attempt == 2
    assert fact.created_at is not None
    assert fact.created_at.utcoffset() is not None
    assert fact.duration_s == 180.0
    assert fact.extra == {"reviewers": ["a"]}
    assert fact.jobs is not None
    assert [j.key for j in fact.jobs] == ["test#1", "test#2"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"repository": None}, "repository is required"),
        ({"run_id": None}, "run_id is required"),
        ({"run_id": True}, "run_id is required"),
        ({"run_number": None, "created_at": None}, "one of run_number and created_at"),
        ({"status": "done"}, "status 'done'"),
        ({"conclusion": None}, "conclusion is required"),
        ({"conclusion": "exploded"}, "vocabulary"),
        ({"created_at": "yesterday"}, "created_at is not a timestamp"),
        ({"run_attempt": 0}, "run_attempt must be at least 1"),
        ({"files_changed": -1}, "files_changed must be at least 0"),
        ({"lines_added": "many"}, "lines_added must be an integer"),
        ({"duration_s": "slow"}, "duration_s must be a number"),
        ({"completed_at": "2025-01-01T09:00:00Z"}, "completed_at is before started_at"),
        ({"runner_labels": [1]}, "runner_labels must be a list of strings"),
        ({"jobs": {"name": "x"}}, "jobs must be a list"),
        ({"jobs": [{"conclusion": "success"}]}, r"jobs\[0\].name is required"),
        ({"jobs": [{"name": "x", "started_at": "never"}]}, r"jobs\[0\]: started_at"),
    ],
)
def test_broken_records_are_rejected_with_the_reason(change: dict[str, Any], reason: str) -> None:
    """Each rule of the format, when broken, rejects the record and says which rule."""
    with pytest.raises(RecordRejected, match=reason):
        parse_record({**GOOD, **change})


def test_disagreeing_duration_is_reported_and_timestamps_win() -> None:
    """A duration_s more than a second off the timestamps is replaced and warned about."""
    parsed = parse_record({**GOOD, "duration_s": 100})
    assert parsed.fact.duration_s == 180.0
    assert parsed.warning is not None
    assert "disagrees" in parsed.warning


def test_format_record_is_the_inverse_of_parse_record() -> None:
    """Parsing a formatted record gives the same fact, snapshot included."""
    fact = parse_record(GOOD).fact
    again = parse_record(format_record(fact)).fact
    assert again == fact
