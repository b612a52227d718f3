"""when a model version was rolled back from, so rollbacks go back through what was live in turn

A version rolled back from is off the stack of earlier live versions: a later
rollback passes over it until it is promoted again. Versions archived before
this revision were archived by a promotion (or are treated so).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from controltower.store.types import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``model_versions.rolled_back_at`` (null: never rolled back from)."""
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("rolled_back_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Drop the column (which versions were rolled back from is lost)."""
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("rolled_back_at")
