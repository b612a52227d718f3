"""Snapshot ordering: later lifecycle stages win, then later updates, then content."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controltower.domain import is_failed, is_passed, snapshot_key

T1 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T2 = datetime(2026, 1, 1, 12, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        (snapshot_key("queued", T2, "ff"), snapshot_key("in_progress", T1, "00")),
        (snapshot_key("in_progress", T2, "ff"), snapshot_key("completed", T1, "00")),
        (snapshot_key("completed", T1, "ff"), snapshot_key("completed", T2, "00")),
        (snapshot_key("completed", T1, "00"), snapshot_key("completed", T1, "01")),
        (snapshot_key(None, None, "ff"), snapshot_key("requested", None, "00")),
    ],
)
def test_snapshot_keys_order_by_stage_then_time_then_digest(lower: str, higher: str) -> None:
    """A completed snapshot always supersedes an in-progress one, whatever its timestamp."""
    assert lower < higher


@pytest.mark.parametrize(
    ("conclusion", "failed", "passed"),
    [
        ("failure", True, False),
        ("timed_out", True, False),
        ("startup_failure", True, False),
        ("success", False, True),
        ("cancelled", False, False),
        (None, False, False),
    ],
)
def test_failed_and_passed_follow_the_format_rules(
    conclusion: str | None, failed: bool, passed: bool
) -> None:
    """failure, timed_out and startup_failure fail; success passes; the rest are neither."""
    assert (is_failed(conclusion), is_passed(conclusion)) == (failed, passed)
