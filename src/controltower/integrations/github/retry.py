"""When to try a failed GitHub request again, and after how long: pure decisions.

GitHub's rules (REST API documentation, "Rate limits" and "Best practices"):
a response with ``retry-after`` says how many seconds to wait; one with
``x-ratelimit-remaining: 0`` says to wait until ``x-ratelimit-reset``; a
secondary rate limit without either asks for at least a minute, then longer
each time. Server errors and lost connections are transient: back off
exponentially, with jitter so that concurrent requests do not retry in step.
Anything else (401, 404, 422, a 403 that is not a rate limit) will not get
better by waiting and is not retried.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from controltower.config import GitHubSettings


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong with one request, as far as deciding on a retry goes.

    ``status`` is None for a timeout or connection error. ``wait_s`` is the
    wait GitHub asked for (``retry-after``, or until ``x-ratelimit-reset``).
    ``rate_limited`` marks a 403/429 that is a primary or secondary rate limit.
    """

    status: int | None
    rate_limited: bool = False
    wait_s: float | None = None
    message: str = ""


def is_rate_limit(status: int, message: str, has_hint: bool) -> bool:
    """Whether a 403/429 is a rate limit: 429 always; 403 with a hint or saying so."""
    if status == 429:
        return True
    return status == 403 and (has_hint or "rate limit" in message.lower())


def retry_delay(
    failure: Failure,
    attempt: int,
    settings: GitHubSettings,
    jitter: random.Random | None = None,
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None when not to retry.

    ``attempt`` counts from 1 (the request that just failed).
    """
    if attempt > settings.max_retries:
        return None
    if failure.rate_limited:
        if failure.wait_s is not None:
            return failure.wait_s if failure.wait_s <= settings.max_rate_limit_wait_s else None
        return min(
            settings.rate_limit_wait_s * 2.0 ** (attempt - 1), settings.max_rate_limit_wait_s
        )
    if failure.status is None or failure.status >= 500:
        ceiling = min(settings.backoff_max_s, settings.backoff_base_s * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * (jitter or random).random())
    return None
