"""A fake GitHub REST API: a real HTTP server on 127.0.0.1 serving a generated history.

Responses are built from GitHub's own examples (``tests.support.github_history``)
and behave as the API does where controltower depends on it: ``Link``
pagination with ``per_page`` up to 100, ``x-ratelimit-*`` headers counting
down a budget that resets, the run listing's cap (``total_count`` counts every
match, but pages stop after ``listing_cap`` results), ``created=`` ranges,
job logs as a 302 to a short-lived URL, and GitHub App installation tokens.
Failures are injected with ``inject``: any status, with or without
``retry-after``, optionally only for paths containing a string.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from controltower.config import GitHubSettings
from tests.support.github_history import RATE_LIMIT_EXAMPLE, FakeRepository, FakeRun, stamp


@dataclass
class Fault:
    """A response to give instead of the real one, ``times`` times."""

    status: int
    times: int = 1
    retry_after: int | None = None
    path: str | None = None
    message: str = "injected failure"
    remaining: int | None = None


@dataclass(frozen=True)
class Recorded:
    """One request the server answered."""

    at: float
    method: str
    path: str
    query: str
    status: int
    authorization: str | None


@dataclass
class FakeGitHub:
    """The state behind the fake API; ``app`` serves it."""

    repositories: list[FakeRepository]
    tokens: set[str] = field(default_factory=lambda: {"test-token"})
    prefix: str = ""
    listing_cap: int = 1000
    latency_s: tuple[float, float] = (0.0, 0.0)
    rate_limit: int = 5000
    rate_window_s: float = 3600.0
    app_public_key: str | None = None
    installation_id: int = 4242
    token_lifetime_s: float = 3600.0
    orgs: dict[str, list[str]] = field(default_factory=dict)
    logs: dict[int, bytes] = field(default_factory=dict)
    log_url_ttl_s: float = 60.0
    faults: list[Fault] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    issued: list[tuple[str, datetime]] = field(default_factory=list)
    base_url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining = self.rate_limit
        self._reset_at = time.time() + self.rate_window_s
        self._random = random.Random(7)
        self.by_name = {repo.full_name: repo for repo in self.repositories}

    def inject(self, status: int, **kwargs: Any) -> Fault:
        """Answer the next matching request(s) with ``status`` instead."""
        fault = Fault(status, **kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def api_requests(self, contains: str = "") -> list[Recorded]:
        """Requests to the API (not to signed log URLs) whose path contains ``contains``."""
        return [r for r in self.requests if "/_signed/" not in r.path and contains in r.path]

    # -- the application -------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        """The ASGI application."""
        p = self.prefix
        routes = [
            Route(p + "/rate_limit", self._rate_limit),
            Route(p + "/app/installations/{id:int}/access_tokens", self._token, methods=["POST"]),
            Route(p + "/repos/{owner}/{repo}/installation", self._installation),
            Route(p + "/orgs/{org}/installation", self._installation),
            Route(p + "/orgs/{org}/repos", self._org_repos),
            Route(p + "/repos/{owner}/{repo}/actions/workflows", self._workflows),
            Route(p + "/repos/{owner}/{repo}/actions/runs", self._runs),
            Route(p + "/repos/{owner}/{repo}/actions/runs/{run_id:int}", self._run),
            Route(p + "/repos/{owner}/{repo}/actions/runs/{run_id:int}/jobs", self._jobs),
            Route(
                p + "/repos/{owner}/{repo}/actions/runs/{run_id:int}/attempts/{n:int}",
                self._run,
            ),
            Route(
                p + "/repos/{owner}/{repo}/actions/runs/{run_id:int}/attempts/{n:int}/jobs",
                self._jobs,
            ),
            Route(p + "/repos/{owner}/{repo}/actions/jobs/{job_id:int}/logs", self._log_redirect),
            Route("/_signed/logs/{job_id:int}", self._signed_log),
        ]
        app = Starlette(routes=routes)
        app.add_middleware(_Gate, fake=self)
        return app

    def _gate(self, request: Request) -> Response | None:
        """Faults, authentication and the rate limit, before any route."""
        path = request.url.path
        with self._lock:
            fault = next((f for f in self.faults if f.path is None or f.path in path), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
        if fault is not None:
            headers = self._rate_headers(fault.remaining)
            if fault.retry_after is not None:
                headers["retry-after"] = str(fault.retry_after)
            return JSONResponse({"message": fault.message}, fault.status, headers=headers)
        if path.startswith("/_signed/"):
            return None
        auth = request.headers.get("authorization", "")
        if "/app/" in path or path.endswith("/installation"):
            return None if self._valid_jwt(auth) else _error(401, "A JSON web token is required")
        token = auth.split(" ", 1)[-1]
        if token not in self.tokens and not self._valid_installation_token(token):
            return _error(401, "Bad credentials")
        with self._lock:
            if time.time() >= self._reset_at:
                self._remaining = self.rate_limit
                self._reset_at = time.time() + self.rate_window_s
            if self._remaining <= 0:
                return JSONResponse(
                    {"message": "API rate limit exceeded"}, 403, headers=self._rate_headers()
                )
            self._remaining -= 1
        return None

    def _rate_headers(self, remaining: int | None = None) -> dict[str, str]:
        left = self._remaining if remaining is None else remaining
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(left),
            "x-ratelimit-used": str(self.rate_limit - left),
            "x-ratelimit-reset": str(int(self._reset_at) + 1),
            "x-ratelimit-resource": "core",
        }

    def _valid_jwt(self, auth: str) -> bool:
        if self.app_public_key is None or not auth.startswith("Bearer "):
            return False
        import jwt  # noqa: PLC0415 - only the App tests need it

        try:
            jwt.decode(auth.removeprefix("Bearer "), self.app_public_key, algorithms=["RS256"])
        except jwt.PyJWTError:
            return False
        return True

    def _valid_installation_token(self, token: str) -> bool:
        now = datetime.now(UTC)
        return any(token == t and now < expires for t, expires in self.issued)

    def _page(
        self, request: Request, items: list[Any], key: str | None, total: int | None = None
    ) -> Response:
        """One page of ``items`` with its ``Link`` header; a bare list when ``key`` is None."""
        per_page = min(int(request.query_params.get("per_page", 30)), 100)
        page = max(int(request.query_params.get("page", 1)), 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        if page < last:
            links += [(page + 1, "next"), (last, "last")]
        if page > 1:
            links += [(1, "first"), (page - 1, "prev")]
        query = {k: v for k, v in request.query_params.items() if k != "page"}
        url = f"{self.base_url}{request.url.path}"
        headers = self._rate_headers()
        if links:
            headers["link"] = ", ".join(
                f'<{url}?{urlencode({**query, "page": n})}>; rel="{rel}"' for n, rel in links
            )
        if key is None:
            return JSONResponse(chunk, headers=headers)
        body = {"total_count": len(items) if total is None else total, key: chunk}
        return JSONResponse(body, headers=headers)

    # -- routes ----------------------------------------------------------------------

    def _repo(self, request: Request) -> FakeRepository | None:
        return self.by_name.get(f"{request.path_params['owner']}/{request.path_params['repo']}")

    async def _rate_limit(self, _request: Request) -> Response:
        return JSONResponse(RATE_LIMIT_EXAMPLE, headers=self._rate_headers())

    async def _token(self, request: Request) -> Response:
        if request.path_params["id"] != self.installation_id:
            return _error(404, "Not Found")
        token = f"ghs_{len(self.issued) + 1:04d}"
        expires = datetime.now(UTC) + timedelta(seconds=self.token_lifetime_s)
        with self._lock:
            self.issued.append((token, expires))
        return JSONResponse(
            {"token": token, "expires_at": stamp(expires), "permissions": {"actions": "read"}},
            201,
        )

    async def _installation(self, _request: Request) -> Response:
        return JSONResponse({"id": self.installation_id, "app_id": 1})

    async def _org_repos(self, request: Request) -> Response:
        names = self.orgs.get(request.path_params["org"])
        if names is None:
            return _error(404, "Not Found")
        template = self.repositories[0].runs[0].latest["repository"]
        repos = [{**template, "full_name": name, "name": name.split("/")[1]} for name in names]
        return self._page(request, repos, None)

    async def _workflows(self, request: Request) -> Response:
        repo = self._repo(request)
        if repo is None:
            return _error(404, "Not Found")
        return self._page(request, repo.workflows, "workflows")

    async def _runs(self, request: Request) -> Response:
        repo = self._repo(request)
        if repo is None:
            return _error(404, "Not Found")
        low, high = _created_range(request.query_params.get("created"))
        matching = [
            run.latest
            for run in sorted(repo.runs, key=lambda r: (r.created_at, r.run_id), reverse=True)
            if low <= run.created_at <= high
        ]
        return self._page(request, matching[: self.listing_cap], "workflow_runs", len(matching))

    def _attempt(self, request: Request) -> tuple[FakeRun, int] | None:
        repo = self._repo(request)
        run = repo.run(request.path_params["run_id"]) if repo else None
        if run is None:
            return None
        n = request.path_params.get("n", len(run.attempts))
        return (run, n) if 1 <= n <= len(run.attempts) else None

    async def _run(self, request: Request) -> Response:
        found = self._attempt(request)
        if found is None:
            return _error(404, "Not Found")
        run, n = found
        return JSONResponse(run.attempts[n - 1], headers=self._rate_headers())

    async def _jobs(self, request: Request) -> Response:
        found = self._attempt(request)
        if found is None:
            return _error(404, "Not Found")
        run, n = found
        return self._page(request, run.jobs[n - 1], "jobs")

    async def _log_redirect(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        expires = int(time.time() + self.log_url_ttl_s)
        location = f"{self.base_url}/_signed/logs/{job_id}?urlExpires={expires}&sig=fake"
        return RedirectResponse(location, 302, headers=self._rate_headers())

    async def _signed_log(self, request: Request) -> Response:
        if int(request.query_params.get("urlExpires", 0)) < time.time():
            return PlainTextResponse("AuthenticationFailed: URL expired", 403)
        job_id = request.path_params["job_id"]
        body = self.logs.get(job_id)
        if body is None:
            body = "".join(
                f"2026-01-01T00:00:{i % 60:02d}.0000000Z line {i} of job {job_id}\n"
                for i in range(200)
            ).encode()
            body += b"##[error]Process completed with exit code 1.\n"
        return Response(body, media_type="text/plain")


class _Gate:
    """ASGI middleware: latency, the gate (faults, auth, rate limit) and the request log."""

    def __init__(self, app: Any, fake: FakeGitHub) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        low, high = self.fake.latency_s
        if high > 0:
            await asyncio.sleep(self.fake._random.uniform(low, high))
        request = Request(scope)
        status: list[int] = []

        async def record(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        refused = self.fake._gate(request)
        if refused is not None:
            await refused(scope, receive, record)
        else:
            await self.app(scope, receive, record)
        self.fake.requests.append(
            Recorded(
                time.monotonic(),
                scope["method"],
                scope["path"],
                scope.get("query_string", b"").decode(),
                status[0] if status else 0,
                request.headers.get("authorization"),
            )
        )


def _error(status: int, message: str) -> Response:
    return JSONResponse(
        {"message": message, "documentation_url": "https://docs.github.com/rest"}, status
    )


def _bound(text: str, upper: bool) -> datetime:
    text = text.strip()
    if text == "*":
        return datetime.max.replace(tzinfo=UTC) if upper else datetime.min.replace(tzinfo=UTC)
    if len(text) == 10:
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return day + timedelta(days=1, microseconds=-1) if upper else day
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _created_range(value: str | None) -> tuple[datetime, datetime]:
    """The inclusive range a ``created=`` qualifier selects (``a..b``, ``>=a``, ``<=b``, a day)."""
    everything = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
    if not value:
        return everything
    if ".." in value:
        low, high = value.split("..", 1)
        return _bound(low, False), _bound(high, True)
    for op, side in ((">=", 0), ("<=", 1), (">", 0), ("<", 1)):
        if value.startswith(op):
            bound = _bound(value[len(op) :], side == 1)
            return (bound, everything[1]) if side == 0 else (everything[0], bound)
    return _bound(value, False), _bound(value, True)


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[str]:
    """Serve ``fake`` on a free loopback port for a ``with`` block; yields the API base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    fake.base_url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(fake.app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake GitHub server did not start")
        time.sleep(0.01)
    try:
        yield fake.base_url + fake.prefix
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def settings_for(api_url: str, **overrides: Any) -> GitHubSettings:
    """GitHub settings pointed at the fake server, with waits short enough for tests."""
    values: dict[str, Any] = {
        "token": "test-token",
        "api_url": api_url,
        "backoff_base_s": 0.02,
        "backoff_max_s": 0.1,
        "rate_limit_wait_s": 0.2,
        "max_retries": 4,
        "rate_limit_reserve": 0,
    }
    values.update(overrides)
    return GitHubSettings(**values)
