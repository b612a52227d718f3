"""Alembic environment and versions of controltower's schema."""
