"""silences and acknowledgements

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import controltower.store.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the repository and acknowledgement of alerts; create the table of silences."""
    stamp = controltower.store.types.UTCDateTime
    op.add_column("alerts", sa.Column("repository", sa.String(length=255), nullable=True))
    op.add_column("alerts", sa.Column("acknowledged_at", stamp(), nullable=True))
    op.add_column("alerts", sa.Column("acknowledged_by", sa.String(length=128), nullable=True))
    op.add_column("alerts", sa.Column("ack_note", sa.Text(), nullable=True))
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=True),
        sa.Column("key", sa.String(length=512), nullable=True),
        sa.Column("starts_at", stamp(), nullable=False),
        sa.Column("ends_at", stamp(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", stamp(), nullable=False),
        sa.Column("expired_at", stamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"], unique=False)


def downgrade() -> None:
    """Drop the table of silences and the alerts' new columns."""
    op.drop_index("ix_silences_ends_at", table_name="silences")
    op.drop_table("silences")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("ack_note")
        batch.drop_column("acknowledged_by")
        batch.drop_column("acknowledged_at")
        batch.drop_column("repository")
