"""what moved each stored prediction's duration from the median of five, in words

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from controltower.store.types import JSONType

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column; predictions stored before have none (nothing was told of them)."""
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("duration_factors", JSONType, nullable=True))


def downgrade() -> None:
    """Drop the column (what moved each stored duration is lost)."""
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("duration_factors")
