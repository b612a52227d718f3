"""which predictor gave each stored job prediction's durations: the job duration model or the
median of five

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column; job predictions stored before have none (the median of five gave them)."""
    with op.batch_alter_table("job_predictions") as batch:
        batch.add_column(sa.Column("duration_predictor", sa.String(32), nullable=True))


def downgrade() -> None:
    """Drop the column (which predictor gave the durations is lost)."""
    with op.batch_alter_table("job_predictions") as batch:
        batch.drop_column("duration_predictor")
