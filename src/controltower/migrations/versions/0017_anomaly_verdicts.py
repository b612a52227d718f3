"""what people said of an anomaly: real or not

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import controltower.store.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the verdict columns of ``anomalies``; anomalies recorded before have none."""
    with op.batch_alter_table("anomalies") as batch:
        batch.add_column(sa.Column("verdict", sa.String(16), nullable=True))
        batch.add_column(sa.Column("verdict_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("verdict_note", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("verdict_at", controltower.store.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    """Drop the columns (the verdicts are lost)."""
    with op.batch_alter_table("anomalies") as batch:
        for name in ("verdict_at", "verdict_note", "verdict_by", "verdict"):
            batch.drop_column(name)
