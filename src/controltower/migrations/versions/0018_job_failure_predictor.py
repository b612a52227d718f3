"""which predictor serves jobs' failure figures, per version and per stored job prediction;
the job model's risk factors of each job

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from controltower.store.types import JSONType

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the columns; versions and job predictions made before have none (baselines served)."""
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("job_failure_predictor", sa.String(32), nullable=True))
    with op.batch_alter_table("job_predictions") as batch:
        batch.add_column(sa.Column("failure_predictor", sa.String(32), nullable=True))
        batch.add_column(sa.Column("risk_factors", JSONType, nullable=True))


def downgrade() -> None:
    """Drop the columns (which predictor served is lost)."""
    with op.batch_alter_table("job_predictions") as batch:
        batch.drop_column("risk_factors")
        batch.drop_column("failure_predictor")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("job_failure_predictor")
