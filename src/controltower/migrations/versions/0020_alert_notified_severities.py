"""the severities an alert's firing was notified at, so its resolve reaches the same channels

Alerts still firing when this revision is applied were notified as they
opened or grew worse, so each is taken to have been notified at its present
severity.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``alerts.notified``; firing alerts count as notified at their severity."""
    op.add_column("alerts", sa.Column("notified", sa.String(length=64), nullable=True))
    alerts = sa.table(
        "alerts",
        sa.column("severity", sa.String),
        sa.column("notified", sa.String),
        sa.column("resolved_at", sa.DateTime),
    )
    op.execute(
        alerts.update().where(alerts.c.resolved_at.is_(None)).values(notified=alerts.c.severity)
    )


def downgrade() -> None:
    """Drop the column (resolves then go to the routes of the alert's last severity)."""
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("notified")
