"""the cause an alert shares with other repositories, so its resolve travels under it too

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column; alerts opened before have none (they resolve under their repository)."""
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("shared_cause", sa.String(512), nullable=True))


def downgrade() -> None:
    """Drop the column (resolves of shared causes then travel under their repository)."""
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("shared_cause")
