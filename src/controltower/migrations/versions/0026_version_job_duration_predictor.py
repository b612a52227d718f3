"""which predictor serves jobs' durations per version, so live accuracy can demote the job
duration model

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column; versions registered before have none (their job report decides)."""
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("job_duration_predictor", sa.String(32), nullable=True))


def downgrade() -> None:
    """Drop the column (a demotion of the job duration model is lost)."""
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("job_duration_predictor")
