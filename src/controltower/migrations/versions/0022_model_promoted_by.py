"""who made a model version live: an operator (promote, rollback) or training

Scheduled training only registers a candidate while the live version was
made live by an operator. Versions made live before this revision have none
(taken as made live by training).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``model_versions.promoted_by`` (``operator`` or ``training``; null: training)."""
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("promoted_by", sa.String(16), nullable=True))


def downgrade() -> None:
    """Drop the column (scheduled training then promotes over an operator's choice)."""
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("promoted_by")
