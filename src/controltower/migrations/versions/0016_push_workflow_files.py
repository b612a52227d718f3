"""the workflow files a push changed

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import controltower.store.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``pushes.workflow_files``; pushes stored before it keep null (not known)."""
    with op.batch_alter_table("pushes") as batch:
        batch.add_column(
            sa.Column("workflow_files", controltower.store.types.JSONType, nullable=True)
        )


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("pushes") as batch:
        batch.drop_column("workflow_files")
