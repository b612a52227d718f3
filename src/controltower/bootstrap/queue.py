"""The task queue (huey): embedded on SQLite by default, Redis for several machines.

``queue_url`` chooses the backend: ``sqlite:///path`` (default, a file in the
data directory, no server), ``redis://host:port/db`` (distributed: any number
of ``controltower worker`` processes on any machines), ``memory://`` (one
process, for tests) or ``immediate://`` (tasks run synchronously when queued,
for tests and one-shot commands).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import structlog
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from sqlalchemy import Engine

from controltower.anomaly.recording import detect_and_record
from controltower.anomaly.severity import CostBands, TimeBands
from controltower.anomaly.tuning import Tuning
from controltower.bootstrap.alerting import EvaluationTrigger, register_alerting
from controltower.config import AnomalySettings, Settings
from controltower.errors import ConfigurationError
from controltower.ingest import joblogs, processing, reconcile
from controltower.ingest.reconcile import vars_of
from controltower.intelligence.capability import prediction_mode
from controltower.store.anomalies import RecordReport
from controltower.telemetry import retention
from controltower.telemetry.service import rate_table

QUEUE_NAME = "controltower"
log = structlog.get_logger(__name__)


def make_huey(url: str) -> Huey:
    """A huey instance for ``url``; ``ConfigurationError`` for an unknown scheme."""
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        path = Path(url.removeprefix("sqlite:///").removeprefix("sqlite://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(QUEUE_NAME, filename=str(path), fsync=False)
    if scheme in ("redis", "rediss", "unix"):
        return RedisHuey(QUEUE_NAME, url=url)
    if scheme == "memory":
        return MemoryHuey(QUEUE_NAME)
    if scheme == "immediate":
        return MemoryHuey(QUEUE_NAME, immediate=True)
    raise ConfigurationError(
        f"queue URL {url!r}: use sqlite:///FILE, redis://HOST:PORT/DB, memory:// or immediate://"
    )


@dataclass(frozen=True)
class Tasks:
    """The enqueue functions of the registered tasks."""

    normalize: Callable[[list[int]], Any]
    sweep: Callable[[], Any]
    reconcile: Callable[[], Any] | None = None
    retention: Callable[[], Any] | None = None
    train: Callable[[], Any] | None = None
    anomalies: Callable[[], Any] | None = None
    alerts: Callable[[], Any] | None = None
    alert_trigger: EvaluationTrigger | None = None


def anomaly_tuning(config: AnomalySettings) -> Tuning:
    """The detectors' tuning with the configured bars: against normal and in each unit."""
    return Tuning(
        min_relative=config.min_relative,
        spike_relative=config.spike_relative,
        floor_seconds=config.min_change_seconds,
        floor_usd_month=config.min_change_usd_month,
    )


def anomaly_pass(
    engine: Engine, settings: Settings, *, history: bool = False, now: datetime | None = None
) -> RecordReport:
    """One pass of the anomaly recorder with the configured sensitivity, rates and bands.

    ``history``: the anomalies of the stored history that are over are recorded too.
    """
    config = settings.anomaly
    tuning = anomaly_tuning(config)
    bands = CostBands(config.cost_warning_usd, config.cost_critical_usd)
    times = TimeBands(config.time_warning_seconds, config.time_critical_seconds)
    rates = rate_table(settings.telemetry.rates)
    return detect_and_record(
        engine,
        rates.rate,
        tuning,
        now,
        bands,
        history=history,
        times=times,
        wait_between_jobs_s=config.wait_between_jobs_minutes * 60,
        spike_most=config.spike_max_severity,
    )


def register_tasks(
    huey: Huey,
    engine: Engine,
    *,
    sweep_minutes: int = 1,
    before_batch: Callable[[], None] = lambda: None,
    settings: Settings | None = None,
) -> Tasks:
    """Register controltower's tasks and schedules on ``huey``, bound to ``engine``.

    ``before_batch`` runs before each batch of deliveries is normalized: in the
    web process it waits for a lull in incoming webhooks. With ``settings`` that
    hold GitHub credentials, reconciliation runs every
    ``reconcile.interval_minutes``, followed by fetching the logs of failed jobs;
    and retention runs daily at ``retention.hour``; anomaly detection over the
    store records what it finds every ``anomaly.interval_minutes``; the alert
    rules are evaluated every ``alerts.interval_minutes`` and soon after
    completed runs are written (``bootstrap.alerting``). With
    ``settings``, runs seen requested or queued are predicted (as
    ``intelligence.mode`` and ``ml_enabled`` allow, read on every batch) and the
    models are retrained daily at ``intelligence.train_hour``.
    """
    on_runs = _prediction_hook(engine, settings) if settings is not None else None
    alerts_task, trigger = register_alerting(huey, engine, settings)
    on_completed = _alerting_hook(trigger) if trigger is not None else None

    @huey.task(retries=3, retry_delay=2, name="normalize_deliveries")  # type: ignore[untyped-decorator]
    def normalize_deliveries(ids: list[int]) -> dict[str, int]:
        before_batch()
        report = processing.process(
            engine, ids, limit=len(ids), on_runs=on_runs, on_completed_runs=on_completed
        )
        return vars(report)

    @huey.periodic_task(  # type: ignore[untyped-decorator]
        crontab(minute=f"*/{sweep_minutes}"), name="sweep_pending_deliveries"
    )
    def sweep_pending_deliveries() -> dict[str, int]:
        report = processing.process_all_pending(
            engine, on_runs=on_runs, on_completed_runs=on_completed
        )
        return vars(report)

    reconcile_task = None
    if settings is not None and settings.github.authenticated and settings.reconcile.enabled:
        minutes = settings.reconcile.interval_minutes
        every = crontab(minute=f"*/{minutes}") if minutes < 60 else crontab(minute="0")

        @huey.periodic_task(every, name="reconcile_with_github")  # type: ignore[untyped-decorator]
        def reconcile_with_github() -> list[dict[str, Any]]:
            results = [vars_of(r) for r in reconcile.reconcile(engine, settings)]
            if settings.job_logs.enabled:
                joblogs.fetch_logs(engine, settings)
            return results

        reconcile_task = reconcile_with_github
    retention_task = None
    if settings is not None and settings.retention.enabled:
        daily = crontab(minute="17", hour=str(settings.retention.hour))

        @huey.periodic_task(daily, name="apply_retention")  # type: ignore[untyped-decorator]
        def apply_retention() -> list[dict[str, Any]]:
            reports = retention.run_retention(
                engine, settings.retention, settings.resolved_archive_dir
            )
            from controltower.intelligence.serving import FEATURE_STATE  # noqa: PLC0415 (slow)

            FEATURE_STATE.clear()  # runs deleted: the kept features would count them
            return [vars(r) for r in reports]

        retention_task = apply_retention
    anomaly_task = None
    if settings is not None and settings.enabled and settings.anomaly.enabled:
        config = settings.anomaly
        every = (
            crontab(minute=f"*/{config.interval_minutes}")
            if config.interval_minutes < 60
            else crontab(minute="0")
        )
        configured = settings

        @huey.periodic_task(every, name="record_anomalies")  # type: ignore[untyped-decorator]
        def record_anomalies() -> dict[str, int]:
            return asdict(anomaly_pass(engine, configured))

        anomaly_task = record_anomalies
    return Tasks(
        normalize=normalize_deliveries,
        sweep=sweep_pending_deliveries,
        reconcile=reconcile_task,
        retention=retention_task,
        train=_register_training(huey, engine, settings),
        anomalies=anomaly_task,
        alerts=alerts_task,
        alert_trigger=trigger,
    )


def _alerting_hook(trigger: EvaluationTrigger) -> processing.ReceivedHook:
    """Ask for an alert evaluation; a failure is logged and never holds up ingest."""

    def request(received_at: datetime) -> None:
        try:
            trigger.request(received_at)
        except Exception:  # alerting must never fail the ingest of a delivery
            log.exception("alert_trigger_failed")

    return request


def _predicting(engine: Engine, settings: Settings) -> bool:
    """Whether the prediction capability is on at all now (switched live, else the settings)."""
    return prediction_mode(engine, settings).predicts


def _prediction_hook(engine: Engine, settings: Settings) -> processing.RunsHook:
    """Predict runs just written; a failure is logged and never holds up ingest."""

    def predict(keys: list[processing.RunKey]) -> None:
        if not _predicting(engine, settings):
            return
        from controltower.intelligence.serving import predict_new_runs  # noqa: PLC0415 (slow)

        try:
            predict_new_runs(engine, settings, keys)
        except Exception:  # prediction must never fail the ingest of a delivery
            log.exception("prediction_failed", runs=len(keys))

    return predict


def _register_training(huey: Huey, engine: Engine, settings: Settings | None) -> Any:
    if settings is None or not settings.intelligence.train_daily:
        return None
    daily = crontab(minute="37", hour=str(settings.intelligence.train_hour))

    @huey.periodic_task(daily, name="train_prediction_models")  # type: ignore[untyped-decorator]
    def train_prediction_models() -> dict[str, Any] | None:
        if not _predicting(engine, settings):
            return None
        from controltower.errors import NoHistory, OneOutcome  # noqa: PLC0415
        from controltower.intelligence.lifecycle import retrain  # noqa: PLC0415 (slow import)

        try:
            return retrain(engine, scheduled=True).summary()
        except NoHistory:
            return None
        except OneOutcome as exc:  # a young installation: the baselines serve meanwhile
            log.warning("training_skipped", reason=str(exc))
            return None

    hourly = crontab(minute="47")

    @huey.periodic_task(hourly, name="check_prediction_accuracy")  # type: ignore[untyped-decorator]
    def check_prediction_accuracy() -> list[dict[str, Any]]:
        if not _predicting(engine, settings):
            return []
        from controltower.intelligence.accuracy import check_live_accuracy  # noqa: PLC0415

        with engine.begin() as conn:
            return [asdict(d) for d in check_live_accuracy(conn, settings)]

    return train_prediction_models
