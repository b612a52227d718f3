"""The fact tables: what CI did, as GitHub and history files reported it.

Every fact table has a natural key from GitHub (or the history file) with a
unique constraint, so writers upsert on it and repeat deliveries collapse into
one row. Rows that GitHub reports several times carry ``snapshot``: the
``domain.snapshot_key`` of the version stored, and an upsert replaces a row
only with a greater key. Timestamps are UTC (``UTCDateTime``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from controltower.store.types import JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base sharing one ``MetaData`` with stable constraint names."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class Repository(Base):
    """A repository (or, from history files, any named project)."""

    __tablename__ = "repositories"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(255), unique=True)
    github_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Workflow(Base):
    """A workflow of a repository, by name."""

    __tablename__ = "workflows"
    __table_args__ = (UniqueConstraint("repository_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id"))
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str | None] = mapped_column(String(512))
    github_id: Mapped[int | None] = mapped_column(BigInteger)


class WorkflowRun(Base):
    """One attempt of a workflow run: re-runs are rows of their own with the same ``run_id``."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        UniqueConstraint("repository_id", "run_id", "attempt"),
        Index("ix_workflow_runs_repo_created", "repository_id", "created_at"),
        Index("ix_workflow_runs_workflow_created", "workflow_id", "created_at"),
        Index("ix_workflow_runs_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id"))
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id"))
    run_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    run_number: Mapped[int | None] = mapped_column(BigInteger)
    event: Mapped[str | None] = mapped_column(String(64))
    branch: Mapped[str | None] = mapped_column(String(255))
    head_sha: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(255))
    pull_request: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    conclusion: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    runner_os: Mapped[str | None] = mapped_column(String(32))
    runner_labels: Mapped[list[str] | None] = mapped_column(JSONType)
    files_changed: Mapped[int | None] = mapped_column(Integer)
    lines_added: Mapped[int | None] = mapped_column(Integer)
    lines_deleted: Mapped[int | None] = mapped_column(Integer)
    commits: Mapped[int | None] = mapped_column(Integer)
    committers: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(16))
    snapshot: Mapped[str] = mapped_column(String(128))
    # Derived from the columns above when the row is written, for aggregate queries:
    created_day: Mapped[date | None] = mapped_column(Date)
    queue_s: Mapped[float | None] = mapped_column(Float)
    sku: Mapped[str | None] = mapped_column(String(16))
    est_minutes: Mapped[int | None] = mapped_column(Integer)


class Job(Base):
    """One job of one run attempt; ``key`` is GitHub's job id, or name#n from history files."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("run_pk", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("workflow_runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(300))
    job_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(32))
    conclusion: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    runner_os: Mapped[str | None] = mapped_column(String(32))
    runner_labels: Mapped[list[str] | None] = mapped_column(JSONType)
    runner_name: Mapped[str | None] = mapped_column(String(255))
    runner_group: Mapped[str | None] = mapped_column(String(255))
    snapshot: Mapped[str] = mapped_column(String(128))
    # Derived when the row is written (``domain.billing``), so cost is one aggregate query:
    sku: Mapped[str | None] = mapped_column(String(16))
    bill_day: Mapped[date | None] = mapped_column(Date)
    minutes_steps: Mapped[int | None] = mapped_column(Integer)
    minutes_span: Mapped[int | None] = mapped_column(Integer)


class Step(Base):
    """One step of a job, replaced with the job's winning snapshot."""

    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("job_pk", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_pk: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(512))
    status: Mapped[str | None] = mapped_column(String(32))
    conclusion: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class Deployment(Base):
    """A deployment of a commit to an environment."""

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("repository_id", "deployment_id"),
        Index("ix_deployments_repo_created", "repository_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id"))
    deployment_id: Mapped[str] = mapped_column(String(64))
    sha: Mapped[str | None] = mapped_column(String(64))
    ref: Mapped[str | None] = mapped_column(String(255))
    task: Mapped[str | None] = mapped_column(String(64))
    environment: Mapped[str | None] = mapped_column(String(255))
    creator: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    production: Mapped[bool | None] = mapped_column(Boolean)
    transient: Mapped[bool | None] = mapped_column(Boolean)
    run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    snapshot: Mapped[str] = mapped_column(String(128))


class DeploymentStatus(Base):
    """One state a deployment went through."""

    __tablename__ = "deployment_statuses"
    __table_args__ = (UniqueConstraint("deployment_pk", "status_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_pk: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    status_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    environment: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    creator: Mapped[str | None] = mapped_column(String(255))
    log_url: Mapped[str | None] = mapped_column(Text)
    environment_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    snapshot: Mapped[str] = mapped_column(String(128))


class Push(Base):
    """A push: which ref moved from where to where, and when its commits were made."""

    __tablename__ = "pushes"
    __table_args__ = (UniqueConstraint("repository_id", "ref", "after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id"))
    ref: Mapped[str] = mapped_column(String(255))
    before: Mapped[str] = mapped_column(String(64))
    after: Mapped[str] = mapped_column(String(64))
    pusher: Mapped[str | None] = mapped_column(String(255))
    commits: Mapped[int] = mapped_column(Integer)
    distinct_commits: Mapped[int] = mapped_column(Integer)
    created: Mapped[bool] = mapped_column(Boolean)
    deleted: Mapped[bool] = mapped_column(Boolean)
    forced: Mapped[bool] = mapped_column(Boolean)
    first_commit_at: Mapped[datetime | None]
    head_commit_at: Mapped[datetime | None]
    snapshot: Mapped[str] = mapped_column(String(128))
    # workflow files its commits added, changed or removed (revision 0016; null before it)
    workflow_files: Mapped[list[str] | None] = mapped_column(JSONType)


class PullRequest(Base):
    """The latest known state of a pull request."""

    __tablename__ = "pull_requests"
    __table_args__ = (UniqueConstraint("repository_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id"))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(255))
    head_ref: Mapped[str | None] = mapped_column(String(255))
    head_sha: Mapped[str | None] = mapped_column(String(64))
    base_ref: Mapped[str | None] = mapped_column(String(255))
    draft: Mapped[bool | None] = mapped_column(Boolean)
    merged: Mapped[bool | None] = mapped_column(Boolean)
    additions: Mapped[int | None] = mapped_column(Integer)
    deletions: Mapped[int | None] = mapped_column(Integer)
    changed_files: Mapped[int | None] = mapped_column(Integer)
    commits: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    merged_at: Mapped[datetime | None]
    snapshot: Mapped[str] = mapped_column(String(128))


class Delivery(Base):
    """A raw webhook delivery, stored before it is acknowledged; the replayable source of truth.

    ``state`` is ``pending`` until normalized, then ``processed``, ``ignored``
    (an event controltower does not use) or ``failed`` (with ``note``).
    ``parse`` records whether githubkit's typed models accepted the payload
    (``strict``) or the lenient path was needed (``lenient``, reason in ``note``).
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_state_id", "state", "id"),
        Index("ix_deliveries_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    guid: Mapped[str] = mapped_column(String(64), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    hook_id: Mapped[str | None] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="pending")
    parse: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None]
    processed_by: Mapped[str | None] = mapped_column(String(128))


class BackfillCheckpoint(Base):
    """How far a backfill of one repository got: windows up to ``done_until`` are stored.

    A backfill walks ``[since, until]`` oldest window first and moves
    ``done_until`` in the transaction that writes a window's last page, so an
    interrupted backfill resumes after the last window it completed.
    """

    __tablename__ = "backfill_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    repository: Mapped[str] = mapped_column(String(255), unique=True)
    since: Mapped[datetime]
    until: Mapped[datetime]
    done_until: Mapped[datetime | None]
    runs: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class Reconciliation(Base):
    """One comparison of a repository's runs in a window with what GitHub's API lists.

    ``listed`` run attempts were in the API's listing; ``arrived`` of them had
    been stored from webhooks before; ``missing`` were absent (or known only
    from a job), ``stale`` were stored but behind the API (a missed
    completion), ``jobs_missing`` had no jobs stored; all of those were fetched.
    ``completeness`` is ``arrived / listed`` (None when nothing was listed).
    """

    __tablename__ = "reconciliations"
    __table_args__ = (Index("ix_reconciliations_repository_finished", "repository", "finished_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repository: Mapped[str] = mapped_column(String(255))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    listed: Mapped[int] = mapped_column(Integer)
    arrived: Mapped[int] = mapped_column(Integer)
    missing: Mapped[int] = mapped_column(Integer)
    stale: Mapped[int] = mapped_column(Integer)
    jobs_missing: Mapped[int] = mapped_column(Integer)
    fetched: Mapped[int] = mapped_column(Integer)
    requests: Mapped[int] = mapped_column(Integer)
    completeness: Mapped[float | None] = mapped_column(Float)


class JobLog(Base):
    """The log of a job, compressed; ``error`` says why there is none (e.g. it expired).

    ``size`` is the log's full length; when it was longer than the cap only its
    end is kept and ``truncated`` is set.
    """

    __tablename__ = "job_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_pk: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    fetched_at: Mapped[datetime]
    size: Mapped[int] = mapped_column(BigInteger)
    truncated: Mapped[bool] = mapped_column(Boolean)
    compression: Mapped[str] = mapped_column(String(16))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)


class ModelVersion(Base):
    """One trained version of the prediction models, with its evaluation report.

    ``status`` is ``candidate`` (trained, not serving), ``live`` (at most one)
    or ``archived`` (served before, or superseded); versions are never deleted.
    ``model`` holds the serialized models (gzip-compressed JSON); the live
    predictor of each figure (``failure_predictor``, ``duration_predictor``) is
    ``model`` or the baseline that beat it in ``report``; for jobs' failure
    figures (``job_failure_predictor``) ``model`` or ``baselines``, None when
    the version has no job model; for jobs' durations (``job_duration_predictor``)
    ``model`` or ``median5``. ``rolled_back_at`` is when a rollback last
    took it off the live slot (cleared when it is promoted again): rollbacks
    pass over it. ``promoted_by`` is who made it live last: ``operator``
    (promote, rollback) or ``training`` (null: training).
    """

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    promoted_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]
    rolled_back_at: Mapped[datetime | None]
    promoted_by: Mapped[str | None] = mapped_column(String(16))
    trained_runs: Mapped[int] = mapped_column(Integer)
    failure_predictor: Mapped[str] = mapped_column(String(32))
    duration_predictor: Mapped[str] = mapped_column(String(32))
    job_failure_predictor: Mapped[str | None] = mapped_column(String(32))
    # ``model`` or ``median5`` for jobs' durations (None: registered before it was kept, or
    # no jobs: the job report decides)
    job_duration_predictor: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[bytes] = mapped_column(LargeBinary)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)


class Prediction(Base):
    """The prediction made for a run attempt when it was first seen requested or queued.

    ``shown`` is whether the rollout mode let it be shown when it was made
    (shadow mode stores and scores predictions without showing them); pages
    and the API show it by the mode in force now. ``version_id`` is the model
    version that served it (None: baselines only, no version trained yet).
    ``failure_predictor`` decided pass or fail (``failure_reason`` says why);
    ``probability_predictor`` gave ``failure_probability`` (None: stored
    before they could differ, ``failure_predictor`` gave it).
    """

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(
        ForeignKey("workflow_runs.id", ondelete="CASCADE"), unique=True
    )
    version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    created_at: Mapped[datetime]
    mode: Mapped[str] = mapped_column(String(16))
    shown: Mapped[bool] = mapped_column(Boolean)
    failure_probability: Mapped[float | None] = mapped_column(Float)
    failure_predicted: Mapped[bool | None] = mapped_column(Boolean)
    failure_predictor: Mapped[str] = mapped_column(String(32))
    probability_predictor: Mapped[str | None] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    duration_p10: Mapped[float | None] = mapped_column(Float)
    duration_p50: Mapped[float | None] = mapped_column(Float)
    duration_p90: Mapped[float | None] = mapped_column(Float)
    duration_predictor: Mapped[str] = mapped_column(String(32))
    risk_factors: Mapped[list[str]] = mapped_column(JSONType)
    # what moved the duration model's median from the median of five (None: stored before)
    duration_factors: Mapped[list[str] | None] = mapped_column(JSONType)


class AnomalyRecord(Base):
    """An anomaly of one series, recorded while it lasts.

    Its natural key is the series, metric, kind and start: detecting the same
    anomaly again updates the row (``last_seen_at``) instead of adding one;
    ``resolved_at`` is set when the detectors no longer see it (a shift or
    drift over by its age that the last pass still found is ``held``: the next
    pass judges with it, ``anomalies.open_changes``). ``verdict``
    is what someone said of it (``confirmed``: a real change; ``dismissed``:
    not one), kept while the detectors see it again.
    """

    __tablename__ = "anomalies"
    __table_args__ = (
        UniqueConstraint("series", "metric", "kind", "started_at"),
        Index("ix_anomalies_resolved_at_detected_at", "resolved_at", "detected_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series: Mapped[str] = mapped_column(String(512))
    metric: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    expected: Mapped[float] = mapped_column(Float)
    observed: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    usd_per_month: Mapped[float | None] = mapped_column(Float)
    trigger: Mapped[dict[str, Any] | None]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    verdict: Mapped[str | None] = mapped_column(String(16))
    verdict_by: Mapped[str | None] = mapped_column(String(128))
    verdict_note: Mapped[str | None] = mapped_column(Text)
    verdict_at: Mapped[datetime | None]
    # over by its age but still found by the last pass: the next one holds it (a shift or drift)
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


metadata = Base.metadata


def table_of(model: type[Base]) -> Table:
    """The ``Table`` of a mapped class, typed as such (``__table__`` is typed as a FromClause)."""
    return cast(Table, model.__table__)


class Alert(Base):
    """An alert raised from an active problem, kept while it fires and after it resolves.

    ``key`` identifies the condition (deduplication): while a row with the key
    is unresolved, the same problem seen again only moves ``last_seen_at``.
    ``notified`` lists the severities its firing was notified at (comma
    separated; null while none was, and again once its resolve is sent): its
    resolve goes to all their routes. ``shared_cause`` names a cause it shares with alerts of
    other repositories (an anomaly several show at once, ``Notification.group``): its firing
    and its resolve travel under it.
    """

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_key_resolved_at", "key", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(512))
    rule: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(512))
    detail: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    repository: Mapped[str | None] = mapped_column(String(255))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    ack_note: Mapped[str | None] = mapped_column(Text)
    notified: Mapped[str | None] = mapped_column(String(64))
    shared_cause: Mapped[str | None] = mapped_column(String(512))


class Silence(Base):
    """A silence: alerts it matches between ``starts_at`` and ``ends_at`` notify nobody.

    Matchers are glob patterns on the alert's kind and repository, and
    optionally its rule's name and its exact key. Silences are never deleted:
    ending one early sets ``ends_at`` to that moment and ``expired_at``.
    """

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_ends_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    repository: Mapped[str] = mapped_column(String(255))
    rule: Mapped[str | None] = mapped_column(String(128))
    key: Mapped[str | None] = mapped_column(String(512))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expired_at: Mapped[datetime | None]


class AlertNotification(Base):
    """One notification of an alert to one channel: when its fact arrived and when it left.

    ``channel`` is the channel's name in ``alerts.channels`` (never the URL, which
    holds secrets; rows logged before revision 0024 hold the URL's scheme).
    ``fact_at`` is when the fact behind it arrived (``fact_source``
    ``delivery``: the newest webhook delivery the evaluation saw) or, for a
    problem no delivery raised, when it was detected (``detection``).
    ``sent_at`` is when the receiver accepted it, null if it never did (then
    ``error`` says why); ``latency_s`` is ``sent_at - fact_at``.
    """

    __tablename__ = "alert_notifications"
    __table_args__ = (Index("ix_alert_notifications_recorded_at", "recorded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_key: Mapped[str] = mapped_column(String(512))
    event: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(64))
    grouped: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer)
    fact_at: Mapped[datetime]
    fact_source: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime | None]
    latency_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime]


class NotificationOutbox(Base):
    """A message owed to one channel URL, kept until it is delivered or given up.

    ``channel`` is the configured channel's name and ``target`` a digest of
    the URL (never the URL, which holds secrets), by which a process that
    resumes it finds the URL in its settings again. ``message`` is the
    message as it is sent (``alert_messages.message_document``). ``state`` is
    ``pending`` until ``delivered`` or ``given-up``; ``attempts`` made so far,
    the next at ``next_attempt_at``; ``last_attempt_at`` and ``error`` tell
    how the latest went. ``claimed_by`` is the process sending it, which holds
    it until ``claimed_until`` (null: free to resume at once); it sends an
    attempt only while it still holds it.
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (
        Index("ix_notification_outbox_state", "state"),
        Index("ix_notification_outbox_channel_target", "channel", "target", "last_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(64))
    scheme: Mapped[str] = mapped_column(String(32))
    message: Mapped[dict[str, Any]] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(32))


class CapabilityChange(Base):
    """One switch of a capability's mode; the newest row of a name is its mode now.

    Rows are only added, never changed or deleted, so the history of who
    switched what, when and why is kept.
    """

    __tablename__ = "capabilities"
    __table_args__ = (Index("ix_capabilities_name_id", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime]
    changed_by: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)


class JobPrediction(Base):
    """What was predicted for one job a run was expected to run, when the run was requested."""

    __tablename__ = "job_predictions"
    __table_args__ = (UniqueConstraint("run_pk", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("workflow_runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    duration_p10: Mapped[float | None] = mapped_column(Float)
    duration_p50: Mapped[float | None] = mapped_column(Float)
    duration_p90: Mapped[float | None] = mapped_column(Float)
    failure_probability: Mapped[float | None] = mapped_column(Float)
    failure_predicted: Mapped[bool | None] = mapped_column(Boolean)
    # ``model`` or ``baselines`` (None: stored before it was kept)
    failure_predictor: Mapped[str | None] = mapped_column(String(32))
    # the job model's risk factors, in words (None: the baselines gave the failure figures)
    risk_factors: Mapped[list[str] | None] = mapped_column(JSONType)
    # ``model`` or ``median5`` gave the durations (None: stored before it was kept: ``median5``)
    duration_predictor: Mapped[str | None] = mapped_column(String(32))
    history: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
