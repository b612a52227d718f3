"""which predictor gave a stored prediction's failure probability, and why it decided as it did

The probability shown is the calibrated one of the predictor better on the
probability figures (Brier score, then ROC AUC), the pass/fail decision the
one better on F1 (``failure_predictor``); predictions stored before this
revision took both from ``failure_predictor``.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``predictions.probability_predictor`` and ``predictions.failure_reason``."""
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("probability_predictor", sa.String(32), nullable=True))
        batch.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the columns (who gave the probability, and why it decided, are lost)."""
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("failure_reason")
        batch.drop_column("probability_predictor")
