"""model registry and predictions

Trained model versions with their evaluation reports (never deleted, only
archived), and the prediction stored for each run attempt when it was first
seen requested or queued.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import controltower.store.types
from controltower.store.types import JSONType

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the registry and the predictions."""
    utc = controltower.store.types.UTCDateTime
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("promoted_at", utc(), nullable=True),
        sa.Column("archived_at", utc(), nullable=True),
        sa.Column("trained_runs", sa.Integer(), nullable=False),
        sa.Column("failure_predictor", sa.String(length=32), nullable=False),
        sa.Column("duration_predictor", sa.String(length=32), nullable=False),
        sa.Column("model", sa.LargeBinary(), nullable=False),
        sa.Column("report", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
    )
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_pk", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("created_at", utc(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("shown", sa.Boolean(), nullable=False),
        sa.Column("failure_probability", sa.Float(), nullable=True),
        sa.Column("failure_predicted", sa.Boolean(), nullable=True),
        sa.Column("failure_predictor", sa.String(length=32), nullable=False),
        sa.Column("duration_p10", sa.Float(), nullable=True),
        sa.Column("duration_p50", sa.Float(), nullable=True),
        sa.Column("duration_p90", sa.Float(), nullable=True),
        sa.Column("duration_predictor", sa.String(length=32), nullable=False),
        sa.Column("risk_factors", JSONType, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_pk"],
            ["workflow_runs.id"],
            name=op.f("fk_predictions_run_pk_workflow_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_predictions_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint("run_pk", name=op.f("uq_predictions_run_pk")),
    )


def downgrade() -> None:
    """Drop the predictions and the registry."""
    op.drop_table("predictions")
    op.drop_table("model_versions")
