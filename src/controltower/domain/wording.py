"""Counts in words: ``1 run``, ``3 runs``, ``1 delivery``, ``2 deliveries``."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun``, singular for exactly one (``plural`` when not noun + s)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
