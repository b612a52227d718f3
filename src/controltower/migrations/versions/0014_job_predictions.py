"""job predictions

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import controltower.store.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table of per-job predictions."""
    op.create_table(
        "job_predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("duration_p10", sa.Float(), nullable=True),
        sa.Column("duration_p50", sa.Float(), nullable=True),
        sa.Column("duration_p90", sa.Float(), nullable=True),
        sa.Column("failure_probability", sa.Float(), nullable=True),
        sa.Column("failure_predicted", sa.Boolean(), nullable=True),
        sa.Column("history", sa.Integer(), nullable=False),
        sa.Column("created_at", controltower.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_pk"],
            ["workflow_runs.id"],
            name=op.f("fk_job_predictions_run_pk_workflow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_predictions")),
        sa.UniqueConstraint("run_pk", "name", name=op.f("uq_job_predictions_run_pk_name")),
    )


def downgrade() -> None:
    """Drop the table of per-job predictions."""
    op.drop_table("job_predictions")
