"""Retry decisions for GitHub requests: which failures are retried, and after how long."""

from __future__ import annotations

import random

import pytest

from controltower.config import GitHubSettings
from controltower.integrations.github import Failure, retry_delay
from controltower.integrations.github.retry import is_rate_limit

SETTINGS = GitHubSettings(
    backoff_base_s=1.0,
    backoff_max_s=8.0,
    rate_limit_wait_s=60.0,
    max_rate_limit_wait_s=600.0,
    max_retries=5,
)


@pytest.mark.parametrize(
    ("failure", "attempt", "expected"),
    [
        (Failure(429, rate_limited=True, wait_s=3.0), 1, 3.0),
        (Failure(403, rate_limited=True, wait_s=120.0), 2, 120.0),
        (Failure(403, rate_limited=True, wait_s=3600.0), 1, None),
        (Failure(429, rate_limited=True), 1, 60.0),
        (Failure(429, rate_limited=True), 3, 240.0),
        (Failure(429, rate_limited=True), 5, 600.0),
        (Failure(403), 1, None),
        (Failure(401), 1, None),
        (Failure(404), 1, None),
        (Failure(422), 1, None),
        (Failure(502, rate_limited=False), 6, None),
    ],
)
def test_rate_limits_wait_as_told_and_client_errors_are_final(
    failure: Failure, attempt: int, expected: float | None
) -> None:
    """retry-after/reset are obeyed, unhinted limits back off from a minute, 4xx are final."""
    assert retry_delay(failure, attempt, SETTINGS) == expected


@pytest.mark.parametrize("status", [500, 502, 503, None])
def test_server_errors_back_off_exponentially_with_jitter(status: int | None) -> None:
    """5xx and lost connections wait between half and all of base·2ⁿ⁻¹, capped."""
    rng = random.Random(1)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0)]:
        delay = retry_delay(Failure(status), attempt, SETTINGS, rng)
        assert delay is not None
        assert ceiling / 2 <= delay <= ceiling


@pytest.mark.parametrize(
    ("status", "message", "hinted", "expected"),
    [
        (429, "", False, True),
        (403, "", True, True),
        (403, "You have exceeded a secondary rate limit", False, True),
        (403, "API rate limit exceeded for user", False, True),
        (403, "Resource not accessible by integration", False, False),
    ],
)
def test_a_403_is_a_rate_limit_only_when_it_says_so(
    status: int, message: str, hinted: bool, expected: bool
) -> None:
    """Permission errors are not mistaken for rate limits (and so not retried)."""
    assert is_rate_limit(status, message, hinted) is expected
