"""no queue time for a re-run: GitHub keeps the run's first ``created_at`` on every attempt

A re-run's ``started_at`` less the run's ``created_at`` is how long after the
first attempt it was re-run (days, often), not how long it waited for a
runner; the stored queue times of attempts after the first are cleared, as
``domain.billing.run_figures`` now leaves them.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Clear the queue time of every attempt after the first."""
    runs = sa.table(
        "workflow_runs", sa.column("attempt", sa.Integer), sa.column("queue_s", sa.Float)
    )
    op.execute(runs.update().where(runs.c.attempt > 1).values(queue_s=None))


def downgrade() -> None:
    """Nothing to restore: the cleared spans were never queue times (``0005`` can recompute)."""
