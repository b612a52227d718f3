"""Finding what webhooks missed: each listed run attempt sorted by what the store holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from controltower.ingest.gaps import StoredAttempt, find_gaps

T = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def listed(run_id: int, status: str = "completed", attempt: int = 1) -> dict[str, Any]:
    """A run as GitHub lists it."""
    return {
        "id": run_id,
        "run_attempt": attempt,
        "status": status,
        "updated_at": "2026-01-01T12:00:00Z",
    }


@pytest.mark.parametrize(
    ("stored", "bucket", "arrived"),
    [
        (None, "missing", 0),
        (StoredAttempt("unknown", "webhook", None, 2), "missing", 0),  # placeholder for a job
        (StoredAttempt("completed", "webhook", T, 3), None, 1),
        (StoredAttempt("in_progress", "webhook", T, 3), "stale", 1),
        (
            StoredAttempt("completed", "webhook", datetime(2026, 1, 1, 11, tzinfo=UTC), 3),
            "stale",
            1,
        ),
        (StoredAttempt("completed", "webhook", T, 0), "jobs_missing", 1),
        (StoredAttempt("completed", "api", T, 3), None, 0),
    ],
)
def test_each_listed_attempt_is_sorted_by_what_is_stored(
    stored: StoredAttempt | None, bucket: str | None, arrived: int
) -> None:
    """Missing, behind, without jobs, or fine; only webhook rows count as arrived."""
    gaps = find_gaps([listed(7)], {} if stored is None else {("7", 1): stored})
    assert gaps.arrived == arrived
    for name in ("missing", "stale", "jobs_missing"):
        assert len(getattr(gaps, name)) == (1 if name == bucket else 0)
    assert len(gaps.to_fetch) == (0 if bucket is None else 1)


def test_completeness_is_the_share_arrived_by_webhook() -> None:
    """3 of 4 listed attempts stored from webhooks: 0.75; nothing listed: None."""
    stored = {(str(n), 1): StoredAttempt("completed", "webhook", T, 1) for n in range(3)}
    assert find_gaps([listed(n) for n in range(4)], stored).completeness == 0.75
    assert find_gaps([], {}).completeness is None


def test_attempts_are_told_apart() -> None:
    """A stored first attempt does not stand for a listed second attempt."""
    stored = {("7", 1): StoredAttempt("completed", "webhook", T, 1)}
    assert len(find_gaps([listed(7, attempt=2)], stored).missing) == 1
