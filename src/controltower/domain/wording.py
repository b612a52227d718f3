"""Counts in words (``1 run``, ``3 runs``, ``1 delivery``, ``2 deliveries``) and the words
units share."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun``, singular for exactly one (``plural`` when not noun + s)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


# Ends the unit of a total counted on busy days (or weeks) alone: "USD when it ran" is what
# a day it ran cost, "runs per week when it ran" how many runs a week with runs had.
BUSY_UNIT = " when it ran"
