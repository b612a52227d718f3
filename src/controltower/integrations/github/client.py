"""``GitHubClient``: GET requests to GitHub's REST API that obey its rate limits.

One client serves one backfill or reconciliation: an async githubkit client
with at most ``concurrency`` requests in flight, connections kept alive, and
every call retried (tenacity) as ``retry.retry_delay`` decides. Besides
reacting to 403/429, it watches ``x-ratelimit-remaining`` on every answer and,
when fewer than ``rate_limit_reserve`` requests are left, holds every request
until ``x-ratelimit-reset`` — so the budget is never spent to the last request
that webhooks' other consumers may need. githubkit's errors are translated
into ``GitHubError`` here.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import anyio
import httpx
import structlog
from githubkit import GitHub
from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
)
from tenacity import AsyncRetrying, retry_if_exception, stop_never

from controltower.config import GitHubSettings
from controltower.errors import (
    GitHubAuthError,
    GitHubError,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubUnavailable,
)
from controltower.integrations.github import auth
from controltower.integrations.github.retry import Failure, is_rate_limit, retry_delay

log = structlog.get_logger(__name__)
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """A decoded answer: its JSON, its headers and the ``Link`` header's next page."""

    status: int
    data: Any
    headers: Mapping[str, str]
    next_url: str | None


class RateLimitGate:
    """Holds requests while the remaining budget is at or below the reserve, until reset."""

    def __init__(
        self,
        reserve: int,
        max_wait_s: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.reserve = reserve
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._sleep = sleep
        self.until = 0.0
        self.remaining: int | None = None
        self.paused_s = 0.0

    def observe(self, headers: Mapping[str, str]) -> None:
        """Note the budget an answer reports."""
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        if remaining is None or not remaining.isdigit():
            return
        self.remaining = int(remaining)
        if self.remaining <= self.reserve and reset is not None and reset.isdigit():
            self.until = max(self.until, float(reset))

    async def wait(self) -> None:
        """Return at once, or after the reset when the budget is at the reserve."""
        delay = min(self.until - self._clock(), self.max_wait_s)
        if delay > 0:
            log.info("github.rate_limit.pause", seconds=round(delay, 1), remaining=self.remaining)
            self.paused_s += delay
            await self._sleep(delay)


def failure_of(exc: BaseException) -> Failure | None:
    """What a githubkit exception means for retrying; None for errors that are not GitHub's."""
    if isinstance(exc, RequestFailed):
        response = exc.response
        message = _message(response.raw_response)
        hinted = isinstance(exc, RateLimitExceeded)
        status = response.status_code
        limited = status in (403, 429) and is_rate_limit(status, message, hinted)
        wait = exc.retry_after.total_seconds() if isinstance(exc, RateLimitExceeded) else None
        if wait is not None and "retry-after" not in response.headers:
            wait += 1.0  # x-ratelimit-reset has whole seconds: do not wake a moment early
        return Failure(status, limited, wait, message)
    if isinstance(exc, RequestError):
        cause = exc.exc
        if isinstance(cause, RequestFailed):  # the installation token request failed
            return failure_of(cause)
        return Failure(None, message=repr(cause))
    return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def translate(exc: GitHubException, what: str) -> GitHubError:
    """The ``GitHubError`` for a githubkit exception that ended a call."""
    failure = failure_of(exc) or Failure(None, message=repr(exc))
    status = failure.status
    detail = f"{what}: {status or 'no answer'} {failure.message}".strip()
    if failure.rate_limited:
        return GitHubRateLimited(detail, status=status)
    if status == 404:
        return GitHubNotFound(detail, status=status)
    if status in (401, 403):
        return GitHubAuthError(detail, status=status)
    if status is None or status >= 500:
        return GitHubUnavailable(detail, status=status)
    return GitHubError(detail, status=status)


class GitHubClient:
    """Rate-limit-aware GET requests to GitHub, used inside ``async with``.

    ``scope`` (``OWNER/NAME`` or an organization) is where a GitHub App looks
    for its installation when none is configured.
    """

    def __init__(
        self,
        settings: GitHubSettings,
        *,
        scope: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.scope = scope
        self._sleep = sleep
        self.gate = RateLimitGate(
            settings.rate_limit_reserve, settings.max_rate_limit_wait_s, clock, sleep
        )
        self.requests = 0
        self.retries = 0
        self._github: GitHub[Any] | None = None

    async def __aenter__(self) -> Self:
        installation = self.settings.installation_id
        if self.settings.token is None and installation is None and self.settings.app_id:
            if self.scope is None:
                raise GitHubAuthError("a GitHub App needs github.installation_id here")
            installation = await auth.find_installation(self.settings, self.scope)
        strategy = auth.strategy(self.settings, installation)
        self._github = auth.make_github(self.settings, strategy)
        await self._github.__aenter__()  # type: ignore[no-untyped-call]  # githubkit leaves it unannotated
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._github is not None:
            await self._github.__aexit__(exc_type, exc, tb)
            self._github = None

    @property
    def github(self) -> GitHub[Any]:
        """The githubkit client (only inside ``async with``)."""
        if self._github is None:
            raise RuntimeError("GitHubClient is used outside `async with`")
        return self._github

    async def _call(self, what: str, once: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``once`` until it succeeds or ``retry_delay`` says to stop."""
        delays: list[float] = []

        def decide(exc: BaseException) -> bool:
            failure = failure_of(exc)
            delay = (
                None if failure is None else retry_delay(failure, len(delays) + 1, self.settings)
            )
            if delay is None:
                return False
            log.warning(
                "github.retry", what=what, status=failure and failure.status, wait_s=round(delay, 2)
            )
            delays.append(delay)
            self.retries += 1
            return True

        retrying = AsyncRetrying(
            retry=retry_if_exception(decide),
            wait=lambda _state: delays[-1],
            stop=stop_never,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await once()
        except GitHubException as exc:
            raise translate(exc, what) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self, url: str, params: Mapping[str, Any] | None, stream: bool
    ) -> httpx.Response:
        await self.gate.wait()
        self.requests += 1
        try:
            response = await self.github.arequest("GET", url, params=params, stream=stream)
        except RequestFailed as exc:
            self.gate.observe(exc.response.headers)
            raise
        self.gate.observe(response.headers)
        return response.raw_response

    async def get(self, url: str, params: Mapping[str, Any] | None = None) -> ApiResponse:
        """GET ``url`` (a path under the API base URL, or a full ``Link`` URL) as JSON."""

        async def once() -> ApiResponse:
            raw = await self._send(url, params, stream=False)
            match = _NEXT.search(raw.headers.get("link", ""))
            return ApiResponse(
                raw.status_code, raw.json(), raw.headers, match.group(1) if match else None
            )

        result: ApiResponse = await self._call(f"GET {url}", once)
        return result

    async def pages(
        self, url: str, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[ApiResponse]:
        """Every page of a listing, following ``Link: rel="next"``; ``per_page`` as configured."""
        response = await self.get(url, {"per_page": self.settings.per_page, **(params or {})})
        yield response
        while response.next_url is not None:
            response = await self.get(response.next_url)
            yield response

    async def download(
        self, url: str, max_bytes: int, *, tail: bool = False, read_limit: int | None = None
    ) -> tuple[bytes, int]:
        """The body at ``url`` after redirects, at most ``max_bytes`` of it, and its full size.

        The first ``max_bytes`` are kept, or with ``tail`` the last ones (a log's
        error is at its end). Reading stops after ``read_limit`` bytes (default
        64 times ``max_bytes``); the size returned is then what was read.
        """
        limit = read_limit or 64 * max_bytes

        async def once() -> tuple[bytes, int]:
            raw = await self._send(url, None, stream=True)
            kept = bytearray()
            size = 0
            try:
                async for chunk in raw.aiter_bytes():
                    size += len(chunk)
                    kept += chunk
                    if len(kept) > max_bytes:
                        if not tail:
                            break
                        del kept[: len(kept) - max_bytes]
                    if size >= limit:
                        break
            finally:
                await raw.aclose()
            return bytes(kept[:max_bytes]), size

        result: tuple[bytes, int] = await self._call(f"GET {url}", once)
        return result
