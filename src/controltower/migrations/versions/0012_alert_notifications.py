"""alert notifications

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import controltower.store.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the log of alert notifications (latency per notification and channel)."""
    stamp = controltower.store.types.UTCDateTime
    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_key", sa.String(length=512), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("grouped", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("fact_at", stamp(), nullable=False),
        sa.Column("fact_source", sa.String(length=16), nullable=False),
        sa.Column("sent_at", stamp(), nullable=True),
        sa.Column("latency_s", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("recorded_at", stamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_notifications")),
    )
    op.create_index(
        "ix_alert_notifications_recorded_at",
        "alert_notifications",
        ["recorded_at"],
        unique=False,
    )


def downgrade() -> None:
    """Drop the log of alert notifications."""
    op.drop_index("ix_alert_notifications_recorded_at", table_name="alert_notifications")
    op.drop_table("alert_notifications")
