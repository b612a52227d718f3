"""capabilities

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import controltower.store.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table of capability mode switches."""
    op.create_table(
        "capabilities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("changed_at", controltower.store.types.UTCDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capabilities")),
    )
    op.create_index("ix_capabilities_name_id", "capabilities", ["name", "id"], unique=False)


def downgrade() -> None:
    """Drop the table of capability mode switches."""
    op.drop_index("ix_capabilities_name_id", table_name="capabilities")
    op.drop_table("capabilities")
