"""What webhooks missed: the runs GitHub lists that the store lacks or holds behind. Pure.

Given the run attempts GitHub's API lists for a window and what the store
holds for them, each listed attempt is one of: *arrived* (stored from a
webhook), *missing* (not stored, or known only as a placeholder made for a
job that came before its run), *stale* (stored, but at an earlier stage or
update than the API shows: a completion that never arrived), or stored
without any job although completed (*jobs missing*). Completeness is the
share of listed attempts that arrived by webhook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controltower.domain import status_rank
from controltower.domain.timestamps import parse_timestamp


@dataclass(frozen=True, slots=True)
class StoredAttempt:
    """What the store holds for one run attempt."""

    status: str
    source: str
    updated_at: datetime | None
    jobs: int


@dataclass
class Gaps:
    """The listed attempts, sorted by what has to be done about them."""

    listed: int = 0
    arrived: int = 0
    missing: list[Mapping[str, Any]] = field(default_factory=list)
    stale: list[Mapping[str, Any]] = field(default_factory=list)
    jobs_missing: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def to_fetch(self) -> list[Mapping[str, Any]]:
        """Every listed run that has to be fetched."""
        return [*self.missing, *self.stale, *self.jobs_missing]

    @property
    def completeness(self) -> float | None:
        """Share of listed attempts that arrived by webhook; None when none were listed."""
        return self.arrived / self.listed if self.listed else None


def key_of(run: Mapping[str, Any]) -> tuple[str, int]:
    """``(run_id, attempt)`` of a listed run."""
    return str(run["id"]), int(run.get("run_attempt") or 1)


def behind(stored: StoredAttempt, run: Mapping[str, Any]) -> bool:
    """Whether the stored attempt is at an earlier stage or update than the API shows."""
    listed_rank, stored_rank = status_rank(run.get("status")), status_rank(stored.status)
    if stored_rank != listed_rank:
        return stored_rank < listed_rank
    updated = parse_timestamp(run.get("updated_at"))
    return updated is not None and (stored.updated_at is None or stored.updated_at < updated)


def find_gaps(
    listed: Sequence[Mapping[str, Any]], stored: Mapping[tuple[str, int], StoredAttempt]
) -> Gaps:
    """Sort the listed run attempts by what the store holds for them."""
    gaps = Gaps(listed=len(listed))
    for run in listed:
        held = stored.get(key_of(run))
        if held is None or status_rank(held.status) == 0:
            gaps.missing.append(run)
            continue
        if held.source == "webhook":
            gaps.arrived += 1
        if behind(held, run):
            gaps.stale.append(run)
        elif held.jobs == 0 and run.get("status") == "completed":
            gaps.jobs_missing.append(run)
    return gaps
