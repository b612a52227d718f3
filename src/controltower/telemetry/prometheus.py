"""Prometheus exposition of CI telemetry, named after the OpenTelemetry CI/CD conventions.

Metrics are computed from the store when scraped (cached for a few seconds,
so several Prometheus servers do not multiply the cost), with low-cardinality
labels only: repository, workflow, and a small result or state vocabulary —
never run, job or commit ids.

- ``cicd_pipeline_run_duration_seconds{repository,workflow,result}``, a
  histogram: OpenTelemetry's ``cicd.pipeline.run.duration``;
- ``cicd_pipeline_run_errors_total{repository,workflow,error_type}``, a
  counter: ``cicd.pipeline.run.errors``;
- ``cicd_pipeline_run_active{repository,workflow,state}``, a gauge:
  ``cicd.pipeline.run.active``, the runs that can still be going on (one GitHub
  reported unfinished beyond its time limits has ended: ``domain.could_be_running``);
- ``controltower_deliveries{state}`` and
  ``controltower_last_delivery_timestamp_seconds``: controltower's own ingest;
- ``controltower_data_completeness_ratio{repository}``: the share of the
  runs GitHub's API listed that had arrived by webhook, at each repository's
  latest reconciliation (``repository="*"`` for all of them together);
- ``controltower_alert_latency_seconds{channel}``, a histogram: from the fact
  behind an alert notification arriving to the receiver accepting it, per
  channel (its configured name), from the notification log.

A pipeline run is one attempt of a workflow run. ``result`` follows the
convention's ``cicd.pipeline.result`` values: success, failure, timeout,
cancellation, skip, error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, case, func, select

from controltower.domain import could_be_running
from controltower.store.engine import reading
from controltower.store.tables import Delivery, Repository, Workflow, WorkflowRun, table_of
from controltower.telemetry import notification_log
from controltower.telemetry.completeness import data_completeness

BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0)
RESULTS = {
    "success": "success",
    "failure": "failure",
    "timed_out": "timeout",
    "cancelled": "cancellation",
    "skipped": "skip",
    "neutral": "skip",
    "stale": "skip",
    "action_required": "cancellation",
    "startup_failure": "error",
}
ERRORS = ("failure", "timed_out", "startup_failure")
ACTIVE = {
    "requested": "pending",
    "pending": "pending",
    "waiting": "pending",
    "queued": "pending",
    "in_progress": "executing",
}

runs_t, repos_t, workflows_t = table_of(WorkflowRun), table_of(Repository), table_of(Workflow)
deliveries_t = table_of(Delivery)


def _durations(conn: Connection) -> Sequence[Any]:
    duration = runs_t.c.duration_s
    columns = [func.count().label("n"), func.coalesce(func.sum(duration), 0.0).label("total")]
    columns += [
        func.sum(case((duration <= b, 1), else_=0)).label(f"le{i}") for i, b in enumerate(BUCKETS)
    ]
    return conn.execute(
        select(repos_t.c.full_name, workflows_t.c.name, runs_t.c.conclusion, *columns)
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .join(workflows_t, workflows_t.c.id == runs_t.c.workflow_id)
        .where(runs_t.c.status == "completed", duration.is_not(None))
        .group_by(repos_t.c.full_name, workflows_t.c.name, runs_t.c.conclusion)
    ).all()


def _counts(conn: Connection, where: Any, by: Any) -> Sequence[Any]:
    return conn.execute(
        select(repos_t.c.full_name, workflows_t.c.name, by, func.count())
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .join(workflows_t, workflows_t.c.id == runs_t.c.workflow_id)
        .where(where)
        .group_by(repos_t.c.full_name, workflows_t.c.name, by)
    ).all()


def _active(conn: Connection, now: datetime) -> list[tuple[str, str, str]]:
    """Repository, workflow and status of each run attempt not completed that can still be
    going on at ``now`` (unfinished runs are few: they are read one by one)."""
    rows = conn.execute(
        select(
            repos_t.c.full_name,
            workflows_t.c.name,
            runs_t.c.status,
            func.coalesce(runs_t.c.started_at, runs_t.c.created_at),
        )
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .join(workflows_t, workflows_t.c.id == runs_t.c.workflow_id)
        .where(runs_t.c.status.in_(ACTIVE))
    )
    return [(r[0], r[1], r[2]) for r in rows if could_be_running(r[2], r[3], now)]


def families(conn: Connection) -> list[Metric]:
    """Every metric family, read from the store."""
    histogram = HistogramMetricFamily(
        "cicd_pipeline_run_duration_seconds",
        "Duration of pipeline runs (workflow run attempts).",
        labels=["repository", "workflow", "result"],
    )
    merged: dict[tuple[str, str, str], list[float]] = {}
    for row in _durations(conn):
        key = (row.full_name, row.name, RESULTS.get(row.conclusion or "", "error"))
        values = [row.n, row.total, *(getattr(row, f"le{i}") for i in range(len(BUCKETS)))]
        merged[key] = [
            a + b for a, b in zip(merged.get(key, [0.0] * len(values)), values, strict=True)
        ]
    for key, (count, total, *cumulative) in sorted(merged.items()):
        buckets = [(str(b), c) for b, c in zip(BUCKETS, cumulative, strict=True)]
        histogram.add_metric(list(key), [*buckets, ("+Inf", count)], total)
    errors = CounterMetricFamily(
        "cicd_pipeline_run_errors",
        "Pipeline runs that ended in an error, by its type.",
        labels=["repository", "workflow", "error_type"],
    )
    for repo, workflow, conclusion, n in _counts(
        conn, runs_t.c.conclusion.in_(ERRORS), runs_t.c.conclusion
    ):
        errors.add_metric([repo, workflow, conclusion], n)
    active = GaugeMetricFamily(
        "cicd_pipeline_run_active",
        "Pipeline runs not completed yet that can still be going on, by state.",
        labels=["repository", "workflow", "state"],
    )
    states: dict[tuple[str, str, str], int] = {}
    for repo, workflow, status in _active(conn, datetime.now(UTC)):
        key = (repo, workflow, ACTIVE[status])
        states[key] = states.get(key, 0) + 1
    for key, n in sorted(states.items()):
        active.add_metric(list(key), n)
    return [histogram, errors, active, *_own(conn)]


def _own(conn: Connection) -> list[Metric]:
    deliveries = GaugeMetricFamily(
        "controltower_deliveries", "Stored webhook deliveries by state.", labels=["state"]
    )
    for state, n in conn.execute(
        select(deliveries_t.c.state, func.count()).group_by(deliveries_t.c.state)
    ):
        deliveries.add_metric([state], n)
    last = conn.execute(select(func.max(deliveries_t.c.received_at))).scalar_one_or_none()
    freshness = GaugeMetricFamily(
        "controltower_last_delivery_timestamp_seconds",
        "When the newest webhook delivery was received (Unix time).",
    )
    freshness.add_metric([], last.timestamp() if last is not None else 0.0)
    return [deliveries, freshness, _completeness(conn), _alert_latency(conn)]


def _alert_latency(conn: Connection) -> Metric:
    histogram = HistogramMetricFamily(
        "controltower_alert_latency_seconds",
        "From the fact behind an alert notification arriving to the receiver accepting it.",
        labels=["channel"],
    )
    for channel, cumulative, count, total in notification_log.histogram(conn):
        buckets = [(str(b), c) for b, c in zip(notification_log.BUCKETS, cumulative, strict=True)]
        histogram.add_metric([channel], [*buckets, ("+Inf", count)], total)
    return histogram


def _completeness(conn: Connection) -> Metric:
    gauge = GaugeMetricFamily(
        "controltower_data_completeness_ratio",
        "Share of the runs GitHub listed that had arrived by webhook (latest reconciliation).",
        labels=["repository"],
    )
    report = data_completeness(conn)
    for repo in report.repositories:
        if repo.completeness is not None:
            gauge.add_metric([repo.repository], repo.completeness)
    if report.completeness is not None:
        gauge.add_metric(["*"], report.completeness)
    return gauge


class StoreCollector(Collector):
    """A prometheus-client collector over the store, caching each scrape for ``ttl_s`` seconds."""

    def __init__(
        self, engine: Engine, ttl_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        """The metric families, from cache when fresh."""
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] > self._ttl:
                with self._engine.connect() as conn:
                    self._cached = (now, families(reading(conn)))
            yield from self._cached[1]
