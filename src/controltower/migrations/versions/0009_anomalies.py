"""anomalies

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import controltower.store.types

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table of recorded anomalies."""
    stamp = controltower.store.types.UTCDateTime
    op.create_table(
        "anomalies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series", sa.String(length=512), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("started_at", stamp(), nullable=False),
        sa.Column("detected_at", stamp(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("observed", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("usd_per_month", sa.Float(), nullable=True),
        sa.Column("trigger", controltower.store.types.JSONType, nullable=True),
        sa.Column("first_seen_at", stamp(), nullable=False),
        sa.Column("last_seen_at", stamp(), nullable=False),
        sa.Column("resolved_at", stamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
        sa.UniqueConstraint(
            "series",
            "metric",
            "kind",
            "started_at",
            name=op.f("uq_anomalies_series_metric_kind_started_at"),
        ),
    )
    op.create_index(
        "ix_anomalies_resolved_at_detected_at",
        "anomalies",
        ["resolved_at", "detected_at"],
        unique=False,
    )


def downgrade() -> None:
    """Drop the table of recorded anomalies."""
    op.drop_index("ix_anomalies_resolved_at_detected_at", table_name="anomalies")
    op.drop_table("anomalies")
