"""derived figures for aggregate queries

Each run attempt gets its UTC day, queue time, runner type and estimated
minutes; each job its runner type, billing day and billed minutes (with and
without step records), so metrics and cost are aggregate queries instead of
loading every job and step. Rows already stored are filled in here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from controltower.domain import JobFact, StepFact
from controltower.domain.billing import job_figures, run_figures

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    """Add the derived columns and fill them for stored rows."""
    with op.batch_alter_table("workflow_runs") as batch:
        batch.add_column(sa.Column("created_day", sa.Date(), nullable=True))
        batch.add_column(sa.Column("queue_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("sku", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("est_minutes", sa.Integer(), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("sku", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("bill_day", sa.Date(), nullable=True))
        batch.add_column(sa.Column("minutes_steps", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("minutes_span", sa.Integer(), nullable=True))
    _fill(op.get_bind())


def downgrade() -> None:
    """Drop the derived columns."""
    with op.batch_alter_table("jobs") as batch:
        for name in ("minutes_span", "minutes_steps", "bill_day", "sku"):
            batch.drop_column(name)
    with op.batch_alter_table("workflow_runs") as batch:
        for name in ("est_minutes", "sku", "queue_s", "created_day"):
            batch.drop_column(name)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _fill(conn: sa.Connection) -> None:
    meta = sa.MetaData()
    runs = sa.Table("workflow_runs", meta, autoload_with=conn)
    jobs = sa.Table("jobs", meta, autoload_with=conn)
    steps = sa.Table("steps", meta, autoload_with=conn)
    last = 0
    while True:
        rows = conn.execute(
            sa.select(
                runs.c.id,
                runs.c.created_at,
                runs.c.started_at,
                runs.c.duration_s,
                runs.c.runner_os,
                runs.c.runner_labels,
            )
            .where(runs.c.id > last)
            .order_by(runs.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        values = []
        for r in rows:
            figures = run_figures(
                _utc(r.created_at),
                _utc(r.started_at),
                r.duration_s,
                tuple(r.runner_labels or ()),
                r.runner_os,
            )
            values.append({"pk": r.id, **figures})
        conn.execute(
            runs.update().where(runs.c.id == sa.bindparam("pk")),
            values,
        )
    last = 0
    while True:
        job_rows = conn.execute(
            sa.select(jobs).where(jobs.c.id > last).order_by(jobs.c.id).limit(BATCH)
        ).all()
        if not job_rows:
            break
        last = job_rows[-1].id
        by_job: dict[int, list[StepFact]] = defaultdict(list)
        for s in conn.execute(sa.select(steps).where(steps.c.job_pk.in_([j.id for j in job_rows]))):
            by_job[s.job_pk].append(
                StepFact(
                    s.number,
                    s.name,
                    s.status,
                    s.conclusion,
                    _utc(s.started_at),
                    _utc(s.completed_at),
                )
            )
        values = []
        for j in job_rows:
            fact = JobFact(
                key=j.key,
                name=j.name,
                conclusion=j.conclusion,
                created_at=_utc(j.created_at),
                started_at=_utc(j.started_at),
                completed_at=_utc(j.completed_at),
                runner_os=j.runner_os,
                runner_labels=tuple(j.runner_labels or ()),
                steps=tuple(by_job.get(j.id, ())),
            )
            values.append({"pk": j.id, **job_figures(fact)})
        conn.execute(jobs.update().where(jobs.c.id == sa.bindparam("pk")), values)
