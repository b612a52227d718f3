"""Importing history files into the store and exporting runs back out.

Files are JSON Lines or CSV, gzipped or not (by suffix). Records are parsed
and validated one by one (``history.parse_record``); valid runs are written in
batches, each batch one transaction, so a record is either stored whole or
not at all, and a crash loses at most the batch in flight, which the next
import of the same file writes again (imports are idempotent).
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Engine, select

from controltower.domain import JobFact, RunFact, StepFact
from controltower.domain.timestamps import parse_timestamp
from controltower.errors import RecordRejected
from controltower.ingest.history import RUN_FIELDS, Parsed, format_record, parse_record
from controltower.store.engine import reading, refresh_statistics
from controltower.store.queries import RunSelection
from controltower.store.tables import Job, Repository, Step, Workflow, WorkflowRun, table_of
from controltower.store.writer import FactWriter

BATCH = 2000
MAX_REPORTED = 50
# A CSV cell may hold a run's jobs and steps as JSON: a run of hundreds of jobs is far past the
# csv module's default of 128 KiB, and an export must import back. As large as a webhook body.
MAX_CSV_CELL = 32 * 1024 * 1024
csv.field_size_limit(MAX_CSV_CELL)
Progress = Callable[[int], None]


@dataclass
class ImportReport:
    """The outcome of importing one or more files."""

    files: int = 0
    records: int = 0
    stored: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)
    warning_samples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return dict(vars(self))


@dataclass(frozen=True, slots=True)
class _Line:
    file: str
    number: int
    record: Any


def open_text(path: Path) -> IO[str]:
    """Open a history file as text, decompressing ``.gz``."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def file_format(path: Path) -> str:
    """``jsonl`` or ``csv`` by suffix (before ``.gz``); ``RecordRejected`` for anything else."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    kind = suffixes[-1] if suffixes else ""
    if kind in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if kind == ".csv":
        return "csv"
    raise RecordRejected(f"{path.name}: not a .jsonl or .csv file (optionally .gz)")


def read_records(path: Path) -> Iterator[_Line]:
    """Records of a file with their line numbers; undecodable lines come as ``RecordRejected``,
    and so does the rest of a file that cannot be read to its end (a truncated or corrupt
    archive: the records before it are kept)."""
    kind = file_format(path)
    last = 0
    try:
        with open_text(path) as handle:
            if kind == "jsonl":
                for number, line in enumerate(handle, start=1):
                    last = number
                    if not line.strip():
                        continue
                    try:
                        yield _Line(path.name, number, orjson.loads(line))
                    except orjson.JSONDecodeError as exc:
                        rejected = RecordRejected(f"not JSON: {exc}", line=number)
                        yield _Line(path.name, number, rejected)
            else:
                reader = csv.DictReader(handle)
                for row in reader:
                    number = last = reader.line_num
                    if None in row:
                        rejected = RecordRejected("more fields than the header", line=number)
                        yield _Line(path.name, number, rejected)
                    else:
                        yield _Line(path.name, number, {k: v for k, v in row.items() if v != ""})
    except (EOFError, OSError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
        reason = "the file ends early (truncated)" if isinstance(exc, EOFError) else str(exc)
        rejected = RecordRejected(f"unreadable from here on: {reason}", line=last + 1)
        yield _Line(path.name, last + 1, rejected)


def import_files(
    engine: Engine, paths: list[Path], *, progress: Progress | None = None
) -> ImportReport:
    """Import history files; rejected records are reported with file and line, the rest stored."""
    report = ImportReport()
    for path in paths:
        if not path.is_file():
            raise RecordRejected(
                f"{path}: no such file" if not path.exists() else f"{path}: not a file"
            )
        file_format(path)
    for path in paths:
        report.files += 1
        batch: list[RunFact] = []
        for line in read_records(path):
            report.records += 1
            parsed = _parse(line, report)
            if parsed is not None:
                batch.append(parsed.fact)
            if len(batch) >= BATCH:
                _write(engine, batch, report)
                batch = []
            if progress is not None:
                progress(1)
        _write(engine, batch, report)
    if report.stored:
        refresh_statistics(engine)
    return report


def _parse(line: _Line, report: ImportReport) -> Parsed | None:
    try:
        if isinstance(line.record, RecordRejected):
            raise line.record
        if not isinstance(line.record, dict):
            raise RecordRejected("a record must be a JSON object")
        parsed = parse_record(line.record)
    except RecordRejected as exc:
        report.rejected += 1
        if len(report.rejections) < MAX_REPORTED:
            report.rejections.append({"file": line.file, "line": line.number, "reason": exc.reason})
        return None
    if parsed.warning:
        report.warnings += 1
        if len(report.warning_samples) < MAX_REPORTED:
            report.warning_samples.append(
                {"file": line.file, "line": line.number, "warning": parsed.warning}
            )
    return parsed


def _write(engine: Engine, batch: list[RunFact], report: ImportReport) -> None:
    if not batch:
        return
    # The same run twice in one batch would be upserted twice in one statement; keep the greater.
    unique: dict[tuple[str, str, int], RunFact] = {}
    for fact in batch:
        key = (fact.repository, fact.run_id, fact.attempt)
        if key not in unique or fact.snapshot > unique[key].snapshot:
            unique[key] = fact
    with engine.begin() as conn:
        stored = FactWriter(conn).upsert_runs(list(unique.values()))
    report.stored += stored
    report.unchanged += len(batch) - stored


def export_runs(
    engine: Engine, *, batch: int = 5000, selection: RunSelection | None = None
) -> Iterator[dict[str, Any]]:
    """Every stored run (or those of ``selection``) as an interchange record, oldest first,
    with jobs and steps."""
    chosen = (selection or RunSelection()).conditions()
    runs, jobs, steps = table_of(WorkflowRun), table_of(Job), table_of(Step)
    repos, workflows = table_of(Repository), table_of(Workflow)
    last_id = 0
    with engine.connect() as raw:
        conn = reading(raw)
        while True:
            rows = conn.execute(
                select(
                    runs,
                    repos.c.full_name,
                    workflows.c.name.label("workflow_name"),
                    workflows.c.path.label("workflow_path"),
                )
                .join(repos, repos.c.id == runs.c.repository_id)
                .join(workflows, workflows.c.id == runs.c.workflow_id)
                .where(runs.c.id > last_id, *chosen)
                .order_by(runs.c.id)
                .limit(batch)
            ).all()
            if not rows:
                return
            last_id = rows[-1].id
            ids = [row.id for row in rows]
            job_rows = conn.execute(
                select(jobs).where(jobs.c.run_pk.in_(ids)).order_by(jobs.c.id)
            ).all()
            step_rows = (
                conn.execute(
                    select(steps)
                    .where(steps.c.job_pk.in_([j.id for j in job_rows]))
                    .order_by(steps.c.job_pk, steps.c.number)
                ).all()
                if job_rows
                else []
            )
            steps_by_job: dict[int, list[StepFact]] = {}
            for s in step_rows:
                steps_by_job.setdefault(s.job_pk, []).append(
                    StepFact(s.number, s.name, s.status, s.conclusion, s.started_at, s.completed_at)
                )
            jobs_by_run: dict[int, list[JobFact]] = {}
            for j in job_rows:
                jobs_by_run.setdefault(j.run_pk, []).append(_job_fact(j, steps_by_job))
            for row in rows:
                yield format_record(_run_fact(row, jobs_by_run.get(row.id)))


def _job_fact(j: Any, steps_by_job: dict[int, list[StepFact]]) -> JobFact:
    return JobFact(
        key=j.key,
        name=j.name,
        job_id=j.job_id,
        status=j.status,
        conclusion=j.conclusion,
        created_at=j.created_at,
        started_at=j.started_at,
        completed_at=j.completed_at,
        runner_os=j.runner_os,
        runner_labels=tuple(j.runner_labels or ()),
        runner_name=j.runner_name,
        runner_group=j.runner_group,
        steps=tuple(steps_by_job.get(j.id, ())),
    )


def _run_fact(row: Any, jobs: list[JobFact] | None) -> RunFact:
    return RunFact(
        repository=row.full_name,
        run_id=row.run_id,
        attempt=row.attempt,
        run_number=row.run_number,
        workflow=row.workflow_name,
        workflow_path=row.workflow_path,
        event=row.event,
        branch=row.branch,
        head_sha=row.head_sha,
        actor=row.actor,
        pull_request=row.pull_request,
        status=row.status,
        conclusion=row.conclusion,
        created_at=row.created_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
        duration_s=row.duration_s,
        runner_os=row.runner_os,
        runner_labels=tuple(row.runner_labels or ()),
        files_changed=row.files_changed,
        lines_added=row.lines_added,
        lines_deleted=row.lines_deleted,
        commits=row.commits,
        committers=row.committers,
        extra=row.extra or {},
        jobs=tuple(jobs) if jobs else None,
        source=row.source,
    )


CSV_FIELDS = [name for name in RUN_FIELDS if name != "jobs"] + ["extra", "jobs"]


def write_jsonl(records: Iterator[dict[str, Any]], out: IO[bytes]) -> int:
    """Write records as JSON Lines; return how many."""
    count = 0
    for record in records:
        out.write(orjson.dumps(record) + b"\n")
        count += 1
    return count


def write_csv(records: Iterator[dict[str, Any]], out: IO[str]) -> int:
    """Write records as CSV (lists and jobs as JSON, unknown fields in ``extra``); count them."""
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for record in records:
        row = {k: v for k, v in record.items() if k in CSV_FIELDS}
        extra = {k: v for k, v in record.items() if k not in RUN_FIELDS}
        if extra:
            row["extra"] = orjson.dumps(extra).decode()
        for key in ("jobs", "runner_labels"):
            if key in row:
                row[key] = orjson.dumps(row[key]).decode()
        writer.writerow(row)
        count += 1
    return count


FLAT_TIMESTAMPS = ("created_at", "started_at", "completed_at")


def flat_runs(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Interchange records as flat rows: the job count instead of jobs, labels joined with
    commas, unknown fields as one JSON string, timestamps as datetimes."""
    scalar = [name for name in RUN_FIELDS if name not in ("jobs", "runner_labels")]
    for record in records:
        row = {name: record.get(name) for name in scalar}
        row["run_id"] = str(row["run_id"])
        for name in FLAT_TIMESTAMPS:
            row[name] = parse_timestamp(row[name])
        row["runner_labels"] = ",".join(record.get("runner_labels") or ())
        row["jobs"] = len(record.get("jobs") or ())
        extra = {k: v for k, v in record.items() if k not in RUN_FIELDS}
        row["extra"] = orjson.dumps(extra).decode() if extra else None
        yield row
