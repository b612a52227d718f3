"""alerts

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import controltower.store.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table of alerts."""
    stamp = controltower.store.types.UTCDateTime
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("started_at", stamp(), nullable=False),
        sa.Column("last_seen_at", stamp(), nullable=False),
        sa.Column("resolved_at", stamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_key_resolved_at", "alerts", ["key", "resolved_at"], unique=False)


def downgrade() -> None:
    """Drop the table of alerts."""
    op.drop_index("ix_alerts_key_resolved_at", table_name="alerts")
    op.drop_table("alerts")
