"""notifications owed to a channel, kept until delivered or given up, so a restart resumes them

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import controltower.store.types

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``notification_outbox``."""
    stamp = controltower.store.types.UTCDateTime
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column(
            "message",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", stamp(), nullable=True),
        sa.Column("last_attempt_at", stamp(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", stamp(), nullable=False),
        sa.Column("finished_at", stamp(), nullable=True),
        sa.Column("claimed_until", stamp(), nullable=True),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
    )
    op.create_index("ix_notification_outbox_state", "notification_outbox", ["state"])
    op.create_index(
        "ix_notification_outbox_channel_target",
        "notification_outbox",
        ["channel", "target", "last_attempt_at"],
    )


def downgrade() -> None:
    """Drop ``notification_outbox`` (notifications still owed are lost)."""
    op.drop_index("ix_notification_outbox_channel_target", table_name="notification_outbox")
    op.drop_index("ix_notification_outbox_state", table_name="notification_outbox")
    op.drop_table("notification_outbox")
