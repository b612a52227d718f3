"""The interchange format: what a record must be, and the round trip through export."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controltower.errors import RecordRejected
from controltower.ingest.history import CONCLUSIONS, RUN_FIELDS, format_record, parse_record
from controltower.ingest.transfer import import_files, read_records, write_csv, write_jsonl
from controltower.store.engine import make_engine

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


JOB_FIELDS = (
    "name",
    "job_id",
    "status",
    "conclusion",
    "started_at",
    "completed_at",
    "runner_os",
    "runner_labels",
    "steps",
)
# Any text a database keeps: no NUL (PostgreSQL's text holds none; the format refuses it).
TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"),
    min_size=1,
    max_size=12,
)
MOMENTS = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
# Ids as CI systems write them: numbers, numbers with leading zeros, digits of other scripts,
# any text.
IDS = st.one_of(
    st.integers(0, 10**12),
    st.from_regex(r"0[0-9]{1,6}", fullmatch=True),
    st.text(st.characters(categories=["Nd"]), min_size=1, max_size=4),
    TEXT.filter(lambda s: s.strip() != ""),
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A run as the format allows it: ids of either type, any text in its names, counts,
    labels, a few jobs with steps, and fields the format does not know."""
    started = draw(MOMENTS)
    completed = started + timedelta(seconds=draw(st.integers(0, 86_400)))
    record: dict[str, Any] = {
        "repository": draw(TEXT.filter(lambda s: s.strip() != "")),
        "run_id": draw(IDS),
        "run_attempt": draw(st.integers(1, 5)),
        "created_at": (started - timedelta(seconds=draw(st.integers(0, 600)))).isoformat(),
        "started_at": started.isoformat(),
        "completed_at": completed.isoformat(),
        "conclusion": draw(st.sampled_from(sorted(CONCLUSIONS))),
    }
    for name in ("workflow", "workflow_path", "event", "branch", "head_sha", "actor"):
        if draw(st.booleans()):
            record[name] = draw(TEXT)
    for name in ("run_number", "pull_request", "files_changed", "lines_added", "commits"):
        if draw(st.booleans()):
            record[name] = draw(st.integers(0, 10**6))
    if draw(st.booleans()):
        record["runner_labels"] = draw(st.lists(TEXT, max_size=3))
    if draw(st.booleans()):
        record[draw(st.sampled_from(["queue_label", "zz_unknown"]))] = draw(
            st.one_of(TEXT, st.integers(-5, 5), st.lists(st.integers(0, 3), max_size=2))
        )
    jobs = []
    for _ in range(draw(st.integers(0, 3))):
        job: dict[str, Any] = {
            "name": draw(TEXT),
            "conclusion": draw(st.sampled_from(["success", "failure"])),
        }
        if draw(st.booleans()):
            job["job_id"] = draw(IDS)
        if draw(st.booleans()):
            job["steps"] = [{"name": draw(TEXT), "number": 1, "conclusion": "success"}]
        jobs.append(job)
    if jobs:
        record["jobs"] = jobs
    return record


def _through(kind: str, record: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``record`` written to a file of ``kind`` as ``export`` writes it, and read back."""
    path = folder / f"runs.{kind}"
    if kind == "jsonl":
        with path.open("wb") as out:
            write_jsonl(iter([record]), out)
    else:
        with path.open("w", encoding="utf-8", newline="") as text:
            write_csv(iter([record]), text)
    (line,) = list(read_records(path))
    assert isinstance(line.record, dict)
    return line.record


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(record=records())
def test_any_run_the_format_allows_exports_and_imports_back_the_same(
    record: dict[str, Any], tmp_path: Path
) -> None:
    """A run read from a record, exported as JSON Lines and as CSV and read again: the same run,
    to its snapshot, whatever its ids, names, labels, jobs and fields the format does not
    know."""
    fact = parse_record(record).fact
    for kind in ("jsonl", "csv"):
        again = parse_record(_through(kind, format_record(fact), tmp_path)).fact
        assert again == fact, kind


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["2025-01-01T10:00:00Z", "9999-12-31T23:00:00-05:00", "0001-01-01"])
    | st.sampled_from([1e20, -1e20, 10**30, float("inf"), 253402300800]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    base=records(),
    broken=st.dictionaries(
        st.sampled_from([*RUN_FIELDS, "extra", "steps"]), JSON_VALUES, min_size=1, max_size=4
    ),
    job_broken=st.dictionaries(st.sampled_from(JOB_FIELDS), JSON_VALUES, max_size=3),
)
def test_a_record_is_read_or_rejected_with_a_reason_never_anything_else(
    base: dict[str, Any], broken: dict[str, Any], job_broken: dict[str, Any]
) -> None:
    """Any value in any field, a job's too: the record is read, or refused with
    ``RecordRejected`` (which the import reports with its line, going on with the rest); no
    other error escapes to stop the import."""
    record = {**base, **broken}
    if job_broken:
        record["jobs"] = [{"name": "build", **job_broken}]
    with contextlib.suppress(RecordRejected):
        parse_record(record)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"branch": "main\x00"}, "branch holds a NUL character"),
        ({"runner_labels": ["linux", "\x00"]}, "runner_labels holds a NUL character"),
        ({"run_id": "7\x00"}, "run_id holds a NUL character"),
        ({"jobs": [{"name": "build", "job_id": "a\x00"}]}, r"jobs\[0\]\.job_id holds a NUL"),
        ({"team": {"lead": "a\x00"}}, "does not know holds a NUL character"),
        ({"team": [{"a\x00": 1}]}, "does not know holds a NUL character"),
        ({"files_changed": 2**31}, "files_changed must be at most 2147483647"),
        ({"run_attempt": 1.8e19}, "run_attempt must be at most"),
        ({"team": 2**64}, "a field this format does not know cannot be kept"),
        ({"duration_s": float("inf")}, "duration_s must be a non-negative number"),
        ({"jobs": [{"name": "build", "job_id": {"id": 1}}]}, "job_id must be an integer or a"),
    ],
)
def test_what_a_database_cannot_keep_is_refused_with_its_reason(
    change: dict[str, Any], reason: str
) -> None:
    """A NUL character (PostgreSQL's text holds none), an integer past its column, a value
    JSON cannot keep: refused with the reason, before anything is written."""
    with pytest.raises(RecordRejected, match=reason):
        parse_record({**GOOD, **change})


@pytest.mark.parametrize("moment", [1e20, -1e20, 10**30, "9999-12-31T23:00:00-05:00"])
@pytest.mark.parametrize("name", ["created_at", "started_at", "completed_at"])
def test_a_moment_no_calendar_holds_is_refused_with_its_field(name: str, moment: object) -> None:
    """Epoch seconds past year 9999 (or before year 1), or a time that is past it in UTC."""
    with pytest.raises(RecordRejected, match=f"{name} is not a timestamp"):
        parse_record({**GOOD, name: moment})


def test_a_run_of_hundreds_of_jobs_exports_as_csv_and_imports_back(tmp_path: Path) -> None:
    """Its jobs and steps as JSON fill a cell far past the csv module's default limit of
    128 KiB; the CSV still reads back as the same run."""
    steps = [{"name": f"step {j} of a long name", "number": j + 1} for j in range(20)]
    jobs = [{"name": f"job {i}", "conclusion": "success", "steps": steps} for i in range(200)]
    fact = parse_record({**GOOD, "jobs": jobs}).fact
    written = format_record(fact)
    assert len(orjson.dumps(written["jobs"])) > 128 * 1024
    assert parse_record(_through("csv", written, tmp_path)).fact == fact


def test_a_folder_or_a_missing_path_is_refused_by_name(tmp_path: Path) -> None:
    """Before anything is read or written."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ct.db'}")
    with pytest.raises(RecordRejected, match="not a file"):
        import_files(engine, [tmp_path])
    with pytest.raises(RecordRejected, match="no such file"):
        import_files(engine, [tmp_path / "runs.jsonl"])
    engine.dispose()


def test_text_that_spells_an_escape_is_kept_as_written() -> None:
    """A backslash and "u0000" are six characters, no NUL."""
    fact = parse_record({**GOOD, "branch": "\\u0000", "team": "\\u0000"}).fact
    assert fact.branch == "\\u0000"
    assert fact.extra == {"team": "\\u0000", "reviewers": ["a"]}
