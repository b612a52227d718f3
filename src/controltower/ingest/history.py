"""The run history interchange format (``shared/spec/run-history-format.md``), pure.

``parse_record`` turns one record (a JSON object, or a CSV row already split
into fields) into a ``RunFact`` or raises ``RecordRejected`` with the reason;
``format_record`` turns a stored run back into a record, so that an export
imports into an empty database as the same rows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from controltower.domain import Conclusion, JobFact, RunFact, StepFact, digest, snapshot_key
from controltower.domain.limits import INT32_MAX, INT64_MAX
from controltower.domain.status import RUN_STATUSES
from controltower.domain.timestamps import format_timestamp, parse_timestamp
from controltower.errors import RecordRejected

RUN_FIELDS = (
    "repository",
    "run_id",
    "run_attempt",
    "run_number",
    "workflow",
    "workflow_path",
    "event",
    "branch",
    "head_sha",
    "actor",
    "pull_request",
    "status",
    "conclusion",
    "created_at",
    "started_at",
    "completed_at",
    "duration_s",
    "runner_os",
    "runner_labels",
    "files_changed",
    "lines_added",
    "lines_deleted",
    "commits",
    "committers",
    "jobs",
)
STATUSES = RUN_STATUSES
CONCLUSIONS = frozenset(c.value for c in Conclusion)
COUNT_FIELDS = ("files_changed", "lines_added", "lines_deleted", "commits", "committers")
# Import tolerance: given duration and timestamps that disagree by more are reported.
DURATION_TOLERANCE_S = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed record and what the import should report about it."""

    fact: RunFact
    warning: str | None = None


def parse_record(record: Mapping[str, Any]) -> Parsed:
    """Validate one record and build its ``RunFact``; ``RecordRejected`` says what is wrong."""
    repository = _text(record, "repository", required=True)
    run_id = record.get("run_id")
    if isinstance(run_id, bool) or not isinstance(run_id, int | str) or str(run_id).strip() == "":
        raise RecordRejected("run_id is required (an integer or a non-empty string)")
    attempt = _count(record, "run_attempt", minimum=1)
    run_number = _count(record, "run_number", minimum=0, maximum=INT64_MAX)
    created_at = _time(record, "created_at")
    if run_number is None and created_at is None:
        raise RecordRejected("one of run_number and created_at is required")
    status = _text(record, "status") or "completed"
    if status not in STATUSES:
        raise RecordRejected(f"status {status!r} is not one of {', '.join(sorted(STATUSES))}")
    conclusion = _text(record, "conclusion")
    if status == "completed" and conclusion is None:
        raise RecordRejected("conclusion is required when status is completed")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise RecordRejected(f"conclusion {conclusion!r} is not GitHub's vocabulary")
    started_at, completed_at = _time(record, "started_at"), _time(record, "completed_at")
    duration, warning = _duration(record, started_at, completed_at)
    runner_os = _text(record, "runner_os")
    fields: dict[str, Any] = {
        "repository": repository,
        "run_id": _kept(str(run_id).strip(), "run_id"),
        "attempt": attempt or 1,
        "run_number": run_number,
        "workflow": _text(record, "workflow") or "default",
        "workflow_path": _text(record, "workflow_path"),
        "event": _text(record, "event"),
        "branch": _text(record, "branch"),
        "head_sha": _text(record, "head_sha"),
        "actor": _text(record, "actor"),
        "pull_request": _count(record, "pull_request", minimum=0),
        "status": status,
        "conclusion": conclusion,
        "created_at": created_at,
        "started_at": started_at,
        "completed_at": completed_at,
        "duration_s": duration,
        "runner_os": runner_os.lower() if runner_os else None,
        "runner_labels": _labels(record.get("runner_labels"), "runner_labels"),
        **{name: _count(record, name, minimum=0) for name in COUNT_FIELDS},
        "extra": _extra(record),
        "jobs": _jobs(record.get("jobs")),
        "source": "import",
    }
    stamp = completed_at or started_at or created_at
    fact = RunFact(
        **fields,
        snapshot=snapshot_key(
            status, stamp, digest({k: v for k, v in fields.items() if k != "source"})
        ),
    )
    return Parsed(fact, warning)


def format_record(fact: RunFact) -> dict[str, Any]:
    """The interchange record of a run: the inverse of ``parse_record``."""
    record: dict[str, Any] = {
        "repository": fact.repository,
        "run_id": _id_value(fact.run_id),
        "run_attempt": fact.attempt,
        "run_number": fact.run_number,
        "workflow": fact.workflow,
        "workflow_path": fact.workflow_path,
        "event": fact.event,
        "branch": fact.branch,
        "head_sha": fact.head_sha,
        "actor": fact.actor,
        "pull_request": fact.pull_request,
        "status": fact.status,
        "conclusion": fact.conclusion,
        "created_at": format_timestamp(fact.created_at),
        "started_at": format_timestamp(fact.started_at),
        "completed_at": format_timestamp(fact.completed_at),
        "duration_s": fact.duration_s,
        "runner_os": fact.runner_os,
        "runner_labels": list(fact.runner_labels) or None,
        **{name: getattr(fact, name) for name in COUNT_FIELDS},
    }
    if fact.jobs:
        record["jobs"] = [_format_job(job) for job in fact.jobs]
    record = {key: value for key, value in record.items() if value is not None}
    for key, value in (fact.extra or {}).items():
        record.setdefault(key, value)
    return record


def _id_value(text: str) -> int | str:
    """An id as the record writes it: a number where the text is one as written (``17``), else
    the text (``007`` and digits of other scripts stay strings, or they would read back as
    another id)."""
    return int(text) if text.isascii() and text.isdigit() and str(int(text)) == text else text


def _format_job(job: JobFact) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": job.name,
        "job_id": _id_value(job.job_id) if job.job_id else None,
        "status": job.status,
        "conclusion": job.conclusion,
        "started_at": format_timestamp(job.started_at),
        "completed_at": format_timestamp(job.completed_at),
        "runner_os": job.runner_os,
        "runner_labels": list(job.runner_labels) or None,
    }
    if job.steps:
        out["steps"] = [
            {
                key: value
                for key, value in {
                    "name": step.name,
                    "number": step.number,
                    "status": step.status,
                    "conclusion": step.conclusion,
                    "started_at": format_timestamp(step.started_at),
                    "completed_at": format_timestamp(step.completed_at),
                }.items()
                if value is not None
            }
            for step in job.steps
        ]
    return {key: value for key, value in out.items() if value is not None}


def _text(record: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = record.get(name)
    if value is None or value == "":
        if required:
            raise RecordRejected(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RecordRejected(f"{name} must be a string, not {type(value).__name__}")
    return _kept(str(value), name)


def _kept(text: str, name: str) -> str:
    """``text``, which a database can keep: PostgreSQL's text holds no NUL character."""
    if "\x00" in text:
        raise RecordRejected(f"{name} holds a NUL character, which no text column keeps")
    return text


def _count(
    record: Mapping[str, Any], name: str, *, minimum: int, maximum: int = INT32_MAX
) -> int | None:
    """An integer of at least ``minimum`` and at most ``maximum`` (what its column holds: a
    PostgreSQL ``integer``, or ``bigint`` for the run number), or None where absent."""
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value) if "." in value else int(value)
        except ValueError:
            raise RecordRejected(f"{name} must be an integer, not {value!r}") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordRejected(f"{name} must be an integer, not {value!r}")
    if value < minimum:
        raise RecordRejected(f"{name} must be at least {minimum}, not {value}")
    if value > maximum:
        raise RecordRejected(f"{name} must be at most {maximum}, not {value}")
    return value


def _time(record: Mapping[str, Any], name: str) -> datetime | None:
    try:
        return parse_timestamp(record.get(name))
    except ValueError:
        raise RecordRejected(f"{name} is not a timestamp: {record.get(name)!r}") from None


def _duration(
    record: Mapping[str, Any], started: datetime | None, completed: datetime | None
) -> tuple[float | None, str | None]:
    raw = record.get("duration_s")
    given: float | None = None
    if raw is not None and raw != "":
        try:
            given = float(raw)
        except (TypeError, ValueError):
            raise RecordRejected(f"duration_s must be a number, not {raw!r}") from None
        if given < 0 or not math.isfinite(given):
            raise RecordRejected(f"duration_s must be a non-negative number, not {raw!r}")
    if started and completed:
        if completed < started:
            raise RecordRejected("completed_at is before started_at")
        derived = (completed - started).total_seconds()
        if given is not None and abs(given - derived) > DURATION_TOLERANCE_S:
            return (
                derived,
                f"duration_s {given:g} disagrees with timestamps ({derived:g}); kept timestamps",
            )
        return derived, None
    return given, None


def _labels(value: Any, name: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = _json_or_csv_list(value)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RecordRejected(f"{name} must be a list of strings")
    return tuple(_kept(item, name) for item in value)


def _json_or_csv_list(value: str) -> Any:
    if value.lstrip().startswith("["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise RecordRejected(f"not a JSON list: {value[:80]!r}") from None
    return [part.strip() for part in value.split(",") if part.strip()]


def _extra(record: Mapping[str, Any]) -> dict[str, Any]:
    extra = {k: v for k, v in record.items() if k not in RUN_FIELDS and k != "extra"}
    nested = record.get("extra")
    if isinstance(nested, str) and nested:
        try:
            nested = orjson.loads(nested)
        except orjson.JSONDecodeError:
            raise RecordRejected("extra must be a JSON object") from None
    if isinstance(nested, Mapping):
        extra.update(nested)
    elif nested not in (None, ""):
        extra["extra"] = nested
    try:
        orjson.dumps(extra)  # kept as JSON: integers of at most 64 bits
    except TypeError as exc:
        raise RecordRejected(f"a field this format does not know cannot be kept: {exc}") from None
    if _holds_nul(extra):
        raise RecordRejected("a field this format does not know holds a NUL character")
    return extra


def _holds_nul(value: Any) -> bool:
    """Whether a JSON value holds a NUL character in any string, keys included."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _jobs(value: Any) -> tuple[JobFact, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise RecordRejected("jobs is not a JSON list") from None
    if not isinstance(value, list):
        raise RecordRejected("jobs must be a list")
    seen: dict[str, int] = {}
    jobs = []
    for index, raw in enumerate(value):
        if not isinstance(raw, Mapping):
            raise RecordRejected(f"jobs[{index}] must be an object")
        jobs.append(_job(raw, index, seen))
    return tuple(jobs)


def _job(raw: Mapping[str, Any], index: int, seen: dict[str, int]) -> JobFact:
    where = f"jobs[{index}]"
    name = _text(raw, "name")
    if name is None:
        raise RecordRejected(f"{where}.name is required")
    job_id = raw.get("job_id")
    if isinstance(job_id, bool) or not isinstance(job_id, int | str | None):
        raise RecordRejected(f"{where}.job_id must be an integer or a string")
    if isinstance(job_id, str):
        _kept(job_id, f"{where}.job_id")
    job_key = str(job_id) if job_id not in (None, "") else None
    if job_key is None:
        seen[name] = seen.get(name, 0) + 1
        job_key = f"{name}#{seen[name]}"
    try:
        started, completed = _time(raw, "started_at"), _time(raw, "completed_at")
        conclusion = _text(raw, "conclusion")
        status = _text(raw, "status") or ("completed" if conclusion else None)
        runner_os = _text(raw, "runner_os")
        labels = _labels(raw.get("runner_labels"), "runner_labels")
        steps = _steps(raw.get("steps"))
    except RecordRejected as exc:
        raise RecordRejected(f"{where}: {exc.reason}") from None
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise RecordRejected(f"{where}.conclusion {conclusion!r} is not GitHub's vocabulary")
    content = {
        "name": name,
        "status": status,
        "conclusion": conclusion,
        "started": started,
        "completed": completed,
        "os": runner_os,
        "labels": labels,
        "steps": steps,
    }
    return JobFact(
        key=job_key,
        job_id=str(job_id) if job_id not in (None, "") else None,
        name=name,
        status=status,
        conclusion=conclusion,
        started_at=started,
        completed_at=completed,
        runner_os=runner_os.lower() if runner_os else None,
        runner_labels=labels,
        steps=steps,
        snapshot=snapshot_key("completed", completed, digest(content)),
    )


def _steps(value: Any) -> tuple[StepFact, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RecordRejected("steps must be a list")
    steps = []
    for index, raw in enumerate(value):
        if not isinstance(raw, Mapping):
            raise RecordRejected(f"steps[{index}] must be an object")
        number = _count(raw, "number", minimum=0)
        steps.append(
            StepFact(
                number=number if number is not None else index + 1,
                name=_text(raw, "name") or f"step {index + 1}",
                status="completed" if raw.get("conclusion") else _text(raw, "status"),
                conclusion=_text(raw, "conclusion"),
                started_at=_time(raw, "started_at"),
                completed_at=_time(raw, "completed_at"),
            )
        )
    return tuple(steps)
