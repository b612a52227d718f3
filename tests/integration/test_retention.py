"""Retention: expired data archived to Parquet, then deleted, per kind; dry runs change nothing."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, insert, select

from controltower.bootstrap import build
from controltower.config import RetentionSettings, Settings
from controltower.domain import JobDeliveryFact, JobFact, RunFact, StepFact
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
from controltower.store.writer import FactWriter
from controltower.telemetry.retention import run_retention
from tests.support.server import cli_env, run_cli

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OLD, NEW = NOW - timedelta(days=400), NOW - timedelta(days=1)


def seed(engine: Engine) -> None:
    """Two of each kind, one old and one recent; plus an old delivery still pending."""
    with engine.begin() as conn:
        for n, (at, state) in enumerate([(OLD, "processed"), (NEW, "processed"), (OLD, "pending")]):
            conn.execute(
                insert(table_of(Delivery)).values(
                    guid=f"g{n}",
                    event="ping",
                    content_type="application/json",
                    body=b"{}",
                    received_at=at,
                    state=state,
                    attempts=0,
                )
            )
        writer = FactWriter(conn)
        for run_id, at in (("1", OLD), ("2", NEW)):
            writer.upsert_runs([RunFact("o/r", run_id, created_at=at, snapshot=f"3|{run_id}")])
            job = JobFact(
                key=f"j{run_id}",
                name="test",
                job_id=f"j{run_id}",
                conclusion="failure",
                steps=(StepFact(1, "build"),),
                snapshot="3|x",
            )
            writer.upsert_job(JobDeliveryFact("o/r", run_id, 1, "default", None, None, job))
        for job_pk, at in conn.execute(
            select(table_of(Job).c.id, table_of(WorkflowRun).c.created_at).join(
                table_of(WorkflowRun)
            )
        ):
            conn.execute(
                insert(table_of(JobLog)).values(
                    job_pk=job_pk,
                    fetched_at=at,
                    size=3,
                    truncated=False,
                    compression="gzip",
                    content=gzip.compress(b"log"),
                )
            )
        for at in (OLD, NEW):
            conn.execute(
                insert(table_of(Reconciliation)).values(
                    repository="o/r",
                    window_start=at,
                    window_end=at,
                    started_at=at,
                    finished_at=at,
                    listed=1,
                    arrived=1,
                    missing=0,
                    stale=0,
                    jobs_missing=0,
                    fetched=0,
                    requests=1,
                    completeness=1.0,
                )
            )


def counts(engine: Engine) -> dict[str, int]:
    """Rows per table."""
    tables = (Delivery, WorkflowRun, Job, Step, JobLog, Reconciliation)
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.execute(
                select(func.count()).select_from(table_of(t))
            ).scalar_one()
            for t in tables
        }


ALL_KINDS = RetentionSettings(deliveries_days=30, logs_days=30, runs_days=30, metrics_days=30)


def test_dry_run_counts_and_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    """A dry run reports what would go, per table, and leaves rows and disk alone."""
    seed(engine)
    before = counts(engine)
    reports = run_retention(engine, ALL_KINDS, tmp_path / "archive", dry_run=True, now=NOW)
    rows = {r.kind: r.rows for r in reports}
    assert rows["deliveries"] == {"deliveries": 1}  # the pending one is not counted
    assert rows["runs"] == {"job_logs": 1, "steps": 1, "jobs": 1, "workflow_runs": 1}
    assert rows["metrics"] == {
        "reconciliations": 1,
        "alert_notifications": 0,
        "notification_outbox": 0,
        "alerts": 0,
        "anomalies": 0,
    }
    assert counts(engine) == before
    assert not (tmp_path / "archive").exists()


def test_expired_rows_are_archived_to_parquet_then_deleted(engine: Engine, tmp_path: Path) -> None:
    """Each kind's old rows land in Parquet files and leave the database; recent ones stay."""
    seed(engine)
    reports = run_retention(engine, ALL_KINDS, tmp_path / "archive", now=NOW)
    assert counts(engine) == {
        "deliveries": 2,
        "workflow_runs": 1,
        "jobs": 1,
        "steps": 1,
        "job_logs": 1,
        "reconciliations": 1,
    }
    archived = {Path(p).name.split("-")[0]: Path(p) for r in reports for p in r.archived}
    assert set(archived) == {
        "deliveries",
        "job_logs",
        "steps",
        "jobs",
        "workflow_runs",
        "reconciliations",
    }
    runs = pq.read_table(archived["workflow_runs"]).to_pylist()
    assert [(r["run_id"], r["created_at"]) for r in runs] == [("1", OLD)]
    assert pq.read_table(archived["deliveries"]).to_pylist()[0]["guid"] == "g0"
    logs = pq.read_table(archived["job_logs"]).to_pylist()
    assert gzip.decompress(logs[0]["content"]) == b"log"


def _alert(key: str, resolved_at: datetime | None) -> dict[str, object]:
    return {
        "key": key,
        "rule": "all problems",
        "kind": "failing-branch",
        "severity": "warning",
        "title": key,
        "detail": "",
        "started_at": OLD,
        "last_seen_at": OLD,
        "resolved_at": resolved_at,
    }


def _anomaly(
    series: str, resolved_at: datetime | None, verdict: str | None = None
) -> dict[str, object]:
    return {
        "series": series,
        "metric": "duration",
        "unit": "s",
        "kind": "spike",
        "severity": "info",
        "started_at": OLD,
        "detected_at": OLD,
        "expected": 1.0,
        "observed": 4.0,
        "score": 9.0,
        "first_seen_at": OLD,
        "last_seen_at": OLD,
        "resolved_at": resolved_at,
        "verdict": verdict,
    }


def test_resolved_alerts_anomalies_and_old_notifications_expire_active_ones_stay(
    engine: Engine, tmp_path: Path
) -> None:
    """Alerts and anomalies resolved long ago, and old notifications, go; open ones never do,
    nor an anomaly with a verdict (a label evaluations use)."""
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(Alert)),
            [_alert("old", OLD), _alert("still firing", None), _alert("recent", NEW)],
        )
        conn.execute(
            insert(table_of(AnomalyRecord)),
            [
                _anomaly("a · CI", OLD),
                _anomaly("b · CI", None),
                _anomaly("c · CI", OLD, verdict="confirmed"),
            ],
        )
        conn.execute(
            insert(table_of(AlertNotification)),
            [
                {
                    "alert_key": "old",
                    "event": "firing",
                    "severity": "warning",
                    "channel": "slack-webhook",
                    "grouped": 1,
                    "attempts": 1,
                    "fact_at": at,
                    "fact_source": "delivery",
                    "sent_at": at,
                    "latency_s": 0.4,
                    "recorded_at": at,
                }
                for at in (OLD, NEW)
            ],
        )
        conn.execute(
            insert(table_of(NotificationOutbox)),
            [
                {
                    "channel": "slack",
                    "target": "t",
                    "scheme": "slack-webhook",
                    "message": {"group": "", "notifications": []},
                    "state": state,
                    "attempts": 1,
                    "created_at": OLD,
                    "finished_at": finished,
                }
                for state, finished in (("delivered", OLD), ("pending", None))
            ],
        )
    reports = run_retention(engine, ALL_KINDS, tmp_path / "archive", now=NOW)
    metrics = next(r for r in reports if r.kind == "metrics")
    assert metrics.rows == {
        "reconciliations": 0,
        "alert_notifications": 1,
        "notification_outbox": 1,
        "alerts": 1,
        "anomalies": 1,
    }
    with engine.connect() as conn:
        alerts = conn.execute(select(table_of(Alert).c.key)).scalars().all()
        anomalies = conn.execute(select(table_of(AnomalyRecord).c.series)).scalars().all()
        notified = conn.execute(select(table_of(AlertNotification).c.recorded_at)).scalars()
        assert sorted(alerts) == ["recent", "still firing"]
        assert sorted(anomalies) == ["b · CI", "c · CI"]
        assert list(notified) == [NEW]
        owed = conn.execute(select(table_of(NotificationOutbox).c.state)).scalars().all()
        assert owed == ["pending"]  # a notification still owed is never deleted
    archived = {Path(p).name.split("-")[0]: Path(p) for p in metrics.archived}
    assert pq.read_table(archived["alerts"]).to_pylist()[0]["key"] == "old"


def test_kinds_kept_forever_and_archiving_off(engine: Engine, tmp_path: Path) -> None:
    """runs_days None keeps runs; archive off deletes without writing files."""
    seed(engine)
    settings = RetentionSettings(
        deliveries_days=30, logs_days=None, runs_days=None, metrics_days=None, archive=False
    )
    reports = run_retention(engine, settings, tmp_path / "archive", now=NOW)
    assert counts(engine)["deliveries"] == 2
    assert counts(engine)["workflow_runs"] == 2
    assert counts(engine)["job_logs"] == 2
    assert all(not r.archived for r in reports)
    assert not (tmp_path / "archive").exists()


def test_retention_is_scheduled_daily(settings: Settings) -> None:
    """The container registers the daily retention task unless retention is disabled."""
    container = build(settings)
    assert container.tasks.retention is not None
    container.close()
    off = settings.model_copy(update={"retention": RetentionSettings(enabled=False)})
    container = build(off)
    assert container.tasks.retention is None
    container.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_retention_command_dry_run(tmp_path: Path, database_url: str) -> None:
    """`controltower retention run --dry-run --json` reports every kind and exits 0; on a
    database not yet created or migrated it changes nothing and asks for `db upgrade`."""
    env = cli_env(database_url=database_url, data_dir=str(tmp_path))
    unmigrated = run_cli("retention", "run", "--dry-run", "--json", env=env)
    assert unmigrated.returncode == 1
    assert "run `controltower db upgrade`" in unmigrated.stderr
    assert run_cli("db", "upgrade", env=env).returncode == 0
    result = run_cli("retention", "run", "--dry-run", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert '"kind": "deliveries"' in result.stdout
