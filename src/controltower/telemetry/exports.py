"""Flat tables for other tools: runs, jobs and metrics as CSV or Parquet.

The interchange format (JSON Lines, nested jobs) is for moving history
between installations; these flat tables (and ``ingest.transfer.flat_runs``)
are for spreadsheets, notebooks and warehouses. Lists are joined with
commas, unknown run fields kept as a JSON string, timestamps in UTC.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, select

from controltower.store.queries import RunSelection
from controltower.telemetry.metrics import GroupMetrics
from controltower.telemetry.scope import jobs_t, repos_t, runs_t, workflows_t

BATCH = 10_000
TIMESTAMP = pa.timestamp("us", tz="UTC")
# Columns whose type the first rows may not show (all empty): typed up front.
HINTS = {"created_at": TIMESTAMP, "started_at": TIMESTAMP, "completed_at": TIMESTAMP}


def job_rows(conn: Connection, selection: RunSelection | None = None) -> Iterator[dict[str, Any]]:
    """Every stored job (of the runs ``selection`` takes) with its run's keys, oldest run
    first."""
    query = (
        select(
            repos_t.c.full_name.label("repository"),
            workflows_t.c.name.label("workflow"),
            runs_t.c.run_id,
            runs_t.c.attempt.label("run_attempt"),
            jobs_t.c.key,
            jobs_t.c.job_id,
            jobs_t.c.name,
            jobs_t.c.status,
            jobs_t.c.conclusion,
            jobs_t.c.created_at,
            jobs_t.c.started_at,
            jobs_t.c.completed_at,
            jobs_t.c.runner_os,
            jobs_t.c.runner_labels,
            jobs_t.c.runner_name,
        )
        .join(runs_t, runs_t.c.id == jobs_t.c.run_pk)
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .join(workflows_t, workflows_t.c.id == runs_t.c.workflow_id)
        .where(*(selection or RunSelection()).conditions())
        .order_by(runs_t.c.id, jobs_t.c.id)
    )
    for row in conn.execution_options(yield_per=BATCH).execute(query):
        values = dict(row._mapping)
        values["runner_labels"] = ",".join(values["runner_labels"] or ())
        started, completed = values["started_at"], values["completed_at"]
        values["duration_s"] = (
            (completed - started).total_seconds() if started and completed else None
        )
        yield values


def metric_rows(groups: Iterable[GroupMetrics]) -> Iterator[dict[str, Any]]:
    """One row per group: the current figures, then ``previous_*`` and ``change_*``."""
    for group in groups:
        row: dict[str, Any] = {"group": group.group, **asdict(group.current)}
        previous = asdict(group.previous) if group.previous is not None else {}
        row.update({f"previous_{k}": previous.get(k) for k in asdict(group.current)})
        row.update({f"change_{k}": v for k, v in group.change.items()})
        yield row


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write flat rows as CSV (columns from the first row); return how many."""
    writer: csv.DictWriter[str] | None = None
    count = 0
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row))
            writer.writeheader()
        writer.writerow(row)
        count += 1
    return count


def write_parquet(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Write flat rows as Parquet, in row groups of ``BATCH``; return how many."""
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    count = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal writer, schema
        if not batch:
            return
        if schema is not None:
            _fit(batch, schema)
        table = pa.Table.from_pylist(batch, schema=schema)
        if writer is None:
            schema = _typed(table.schema)
            table = table.cast(schema)
            writer = pq.ParquetWriter(str(path), schema)
        writer.write_table(table)
        batch.clear()

    try:
        for row in rows:
            batch.append(row)
            count += 1
            if len(batch) >= BATCH:
                flush()
        flush()
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # nothing to write: still leave a valid, empty file
        pq.write_table(pa.table({}), str(path))
    return count


def _fit(batch: list[dict[str, Any]], schema: pa.Schema) -> None:
    """Values of string columns as strings, for columns whose type the first batch fixed."""
    text = [f.name for f in schema if pa.types.is_string(f.type)]
    for row in batch:
        for name in text:
            value = row.get(name)
            if value is not None and not isinstance(value, str):
                row[name] = str(value)


def _typed(schema: pa.Schema) -> pa.Schema:
    """Hinted columns get their type; others all null in the first batch become strings."""
    fields = []
    for f in schema:
        if f.name in HINTS:
            fields.append(pa.field(f.name, HINTS[f.name]))
        elif pa.types.is_null(f.type):
            fields.append(pa.field(f.name, pa.string()))
        else:
            fields.append(f)
    return pa.schema(fields)
