"""Retention: expired data archived to Parquet, then deleted, per kind, as configured.

Four kinds, each with its own age (``retention.*_days``; None keeps forever):

- ``deliveries``: raw webhook deliveries received before the cutoff that were
  processed (or ignored, or failed) — a pending delivery is never deleted;
- ``logs``: stored job logs fetched before the cutoff;
- ``runs``: run attempts created before the cutoff, with their jobs, steps and
  logs (deleted by the foreign keys' cascade, archived with them);
- ``metrics``: derived records finished before the cutoff: the
  reconciliation passes behind the completeness figure, alerts and anomalies
  resolved, the notification log, and notifications delivered or given up
  (an alert or anomaly still active is never deleted, nor a notification
  still owed, nor an anomaly someone gave a verdict on: it is a label).

For each kind the expired rows of each table are written to
``ARCHIVE/<kind>/<table>-<stamp>.parquet`` (and the file flushed to disk)
before the same rows are deleted in one transaction, so a crash in between
leaves the rows in place and at worst an archive file too many. ``dry_run``
counts without archiving or deleting.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import structlog
from sqlalchemy import Connection, Engine, Table, delete, func, select

from controltower.config import RetentionSettings
from controltower.store.tables import (
    Alert,
    AlertNotification,
    AnomalyRecord,
    Delivery,
    Job,
    JobLog,
    NotificationOutbox,
    Reconciliation,
    Step,
    WorkflowRun,
    table_of,
)

log = structlog.get_logger(__name__)
deliveries_t, logs_t, runs_t = table_of(Delivery), table_of(JobLog), table_of(WorkflowRun)
jobs_t, steps_t, reconciliations_t = table_of(Job), table_of(Step), table_of(Reconciliation)
alerts_t, notifications_t = table_of(Alert), table_of(AlertNotification)
outbox_t = table_of(NotificationOutbox)
anomalies_t = table_of(AnomalyRecord)
KINDS = ("deliveries", "logs", "runs", "metrics")


@dataclass
class KindReport:
    """What retention did (or, in a dry run, would do) to one kind of data."""

    kind: str
    days: int | None
    cutoff: datetime | None
    rows: dict[str, int] = field(default_factory=dict)
    archived: list[str] = field(default_factory=list)
    deleted: bool = False


def cutoff(days: int | None, now: datetime) -> datetime | None:
    """The instant before which data of a kind kept ``days`` days has expired."""
    return None if days is None else now - timedelta(days=days)


def _selections(kind: str, before: datetime) -> list[tuple[Table, Any]]:
    """``(table, where)`` of the rows of ``kind`` that expired, children before parents."""
    if kind == "deliveries":
        return [
            (
                deliveries_t,
                (deliveries_t.c.received_at < before) & (deliveries_t.c.state != "pending"),
            )
        ]
    if kind == "logs":
        return [(logs_t, logs_t.c.fetched_at < before)]
    if kind == "metrics":
        return [
            (reconciliations_t, reconciliations_t.c.finished_at < before),
            (notifications_t, notifications_t.c.recorded_at < before),
            (outbox_t, outbox_t.c.finished_at < before),
            (alerts_t, alerts_t.c.resolved_at < before),
            (anomalies_t, (anomalies_t.c.resolved_at < before) & anomalies_t.c.verdict.is_(None)),
        ]
    old_runs = select(runs_t.c.id).where(runs_t.c.created_at < before)
    old_jobs = select(jobs_t.c.id).where(jobs_t.c.run_pk.in_(old_runs))
    return [
        (logs_t, logs_t.c.job_pk.in_(old_jobs)),
        (steps_t, steps_t.c.job_pk.in_(old_jobs)),
        (jobs_t, jobs_t.c.run_pk.in_(old_runs)),
        (runs_t, runs_t.c.created_at < before),
    ]


def _plain(value: Any) -> Any:
    """Values Parquet takes as they are; lists and mappings as JSON text."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value


def archive_rows(path: Path, rows: Sequence[Any]) -> None:
    """Write ``rows`` to a Parquet file at ``path`` and flush it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([{k: _plain(v) for k, v in row._mapping.items()} for row in rows])
    partial = path.with_suffix(".parquet.partial")
    pq.write_table(table, partial, compression="zstd")
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(path)


def _apply(
    conn: Connection,
    report: KindReport,
    before: datetime,
    archive_dir: Path | None,
    stamp: str,
    dry_run: bool,
) -> KindReport:
    kind = report.kind
    selections = _selections(kind, before)
    for table, where in selections:
        report.rows[str(table.name)] = conn.execute(
            select(func.count()).select_from(table).where(where)
        ).scalar_one()
    if dry_run:
        return report
    if archive_dir is not None:
        for table, where in selections:
            if report.rows[str(table.name)]:
                path = archive_dir / kind / f"{table.name}-{stamp}.parquet"
                archive_rows(path, conn.execute(select(table).where(where)).all())
                report.archived.append(str(path))
    for table, where in selections:
        conn.execute(delete(table).where(where))
    report.deleted = True
    return report


def run_retention(
    engine: Engine,
    settings: RetentionSettings,
    archive_dir: Path,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> list[KindReport]:
    """Archive and delete expired data of every kind; with ``dry_run``, only count it."""
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    reports = []
    for kind in KINDS:
        days = getattr(settings, f"{kind}_days")
        before = cutoff(days, now)
        if before is None:
            reports.append(KindReport(kind, None, None))
            continue
        target = archive_dir if settings.archive else None
        with engine.begin() as conn:
            report = _apply(conn, KindReport(kind, days, before), before, target, stamp, dry_run)
        log.info("retention.kind", kind=kind, dry_run=dry_run, rows=report.rows)
        reports.append(report)
    return reports
