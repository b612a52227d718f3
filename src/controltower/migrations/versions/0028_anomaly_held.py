"""a shift or drift over by its age that the last pass still found: the next pass holds it

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the flag, false for every row: the next pass marks what it still holds."""
    with op.batch_alter_table("anomalies") as batch:
        batch.add_column(sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop the flag (changes over by their age are then judged afresh by the next pass)."""
    with op.batch_alter_table("anomalies") as batch:
        batch.drop_column("held")
