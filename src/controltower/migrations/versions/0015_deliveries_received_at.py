"""index deliveries by time received

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index deliveries by ``received_at``: retention by age and the oldest pending use it."""
    op.create_index("ix_deliveries_received_at", "deliveries", ["received_at"], unique=False)


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_deliveries_received_at", table_name="deliveries")
