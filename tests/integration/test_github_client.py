"""The GitHub client against the fake REST server on loopback: auth, limits, retries, pages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from controltower.errors import (
    ConfigurationError,
    GitHubAuthError,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubUnavailable,
)
from controltower.integrations.github import GitHubClient
from tests.support.github_history import generate
from tests.support.github_server import FakeGitHub, serve, settings_for

REPO = "octo-org/octo-repo"
RUNS = f"repos/{REPO}/actions/runs"


@pytest.fixture
def fake() -> FakeGitHub:
    """A fake GitHub with one small repository."""
    return FakeGitHub([generate(REPO, runs=12)])


@pytest.fixture
def api(fake: FakeGitHub) -> Iterator[str]:
    """The fake's API base URL while it serves."""
    with serve(fake) as url:
        yield url


def fetch(client_settings: Any, url: str, **params: Any) -> Any:
    """GET ``url`` with a fresh client and return the response."""

    async def main() -> Any:
        async with GitHubClient(client_settings, scope=REPO) as client:
            return await client.get(url, params or None)

    return asyncio.run(main())


def test_a_token_authenticates_every_request(fake: FakeGitHub, api: str) -> None:
    """The personal access token is sent, and the answer is GitHub's example, renumbered."""
    response = fetch(settings_for(api), RUNS)
    assert response.data["total_count"] == 12
    assert response.data["workflow_runs"][0]["id"] == 30_000_011
    assert fake.requests[-1].authorization == "token test-token"


def test_bad_credentials_fail_at_once_without_retrying(fake: FakeGitHub, api: str) -> None:
    """A 401 is a GitHubAuthError after exactly one request."""
    with pytest.raises(GitHubAuthError, match="401"):
        fetch(settings_for(api, token="wrong"), RUNS)
    assert len(fake.api_requests()) == 1


def test_missing_credentials_are_a_configuration_error(api: str) -> None:
    """Without a token or an App the client says which settings to set."""
    with pytest.raises(ConfigurationError, match="CONTROLTOWER_GITHUB__TOKEN"):
        fetch(settings_for(api, token=None), RUNS)


def test_enterprise_server_base_url_with_a_path_prefix() -> None:
    """GitHub Enterprise Server answers under /api/v3: the base URL's path is kept."""
    fake = FakeGitHub([generate(REPO, runs=3)], prefix="/api/v3")
    with serve(fake) as url:
        assert url.endswith("/api/v3")
        assert fetch(settings_for(url), RUNS).data["total_count"] == 3
    assert fake.requests[-1].path == f"/api/v3/{RUNS}"


def app_key(tmp_path: Path) -> tuple[Path, str]:
    """A fresh RSA private key file for a GitHub App, and its public key (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "app.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, public.decode()


def test_github_app_finds_its_installation_and_refreshes_the_token(tmp_path: Path) -> None:
    """The App signs a JWT, looks up the installation, and renews tokens before they expire."""
    key_path, public = app_key(tmp_path)
    # Tokens live 62 s; they are renewed a minute before expiry, so after ~2 s.
    fake = FakeGitHub([generate(REPO, runs=3)], app_public_key=public, token_lifetime_s=62)
    with serve(fake) as url:
        settings = settings_for(url, token=None, app_id=1, private_key_path=key_path)

        async def main() -> None:
            async with GitHubClient(settings, scope=REPO) as client:
                await client.get(RUNS)
                await client.get(RUNS)
                await asyncio.sleep(2.2)
                await client.get(RUNS)

        asyncio.run(main())
    paths = [r.path for r in fake.requests]
    assert paths.count(f"/repos/{REPO}/installation") == 1
    assert paths.count("/app/installations/4242/access_tokens") == 2
    listed = fake.api_requests(RUNS)
    assert [r.status for r in listed] == [200, 200, 200]
    assert [r.authorization for r in listed] == [
        "token ghs_0001",
        "token ghs_0001",
        "token ghs_0002",
    ]


def test_an_unreadable_private_key_is_a_configuration_error(tmp_path: Path, api: str) -> None:
    """A missing key file is reported with its path before any request."""
    settings = settings_for(
        api, token=None, app_id=1, installation_id=4242, private_key_path=tmp_path / "none.pem"
    )
    with pytest.raises(ConfigurationError, match=r"none\.pem"):
        fetch(settings, RUNS)


def test_link_pagination_with_per_page(fake: FakeGitHub, api: str) -> None:
    """Pages are followed through Link rel="next" until the last, per_page at a time."""

    async def main() -> list[int]:
        async with GitHubClient(settings_for(api, per_page=5)) as client:
            return [
                run["id"] async for page in client.pages(RUNS) for run in page.data["workflow_runs"]
            ]

    ids = asyncio.run(main())
    assert len(ids) == len(set(ids)) == 12
    queries = [r.query for r in fake.api_requests(RUNS)]
    assert queries == ["per_page=5", "per_page=5&page=2", "per_page=5&page=3"]


@pytest.mark.parametrize("status", [403, 429])
def test_retry_after_is_honoured(fake: FakeGitHub, api: str, status: int) -> None:
    """A secondary rate limit with retry-after: 1 is retried no sooner than a second later."""
    fake.inject(status, retry_after=1, message="You have exceeded a secondary rate limit")
    assert fetch(settings_for(api), RUNS).status == 200
    first, second = fake.api_requests(RUNS)
    assert (first.status, second.status) == (status, 200)
    assert second.at - first.at >= 1.0


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_without_retry_after_waits_the_configured_minimum(
    fake: FakeGitHub, api: str, status: int
) -> None:
    """With no hint GitHub asks for at least a minute (here 0.2 s): the wait is kept."""
    fake.inject(status, message="You have exceeded a secondary rate limit")
    assert fetch(settings_for(api, rate_limit_wait_s=0.3), RUNS).status == 200
    first, second = fake.api_requests(RUNS)
    assert second.at - first.at >= 0.3


def test_exhausted_primary_limit_waits_for_the_reset() -> None:
    """A 403 with x-ratelimit-remaining 0 (spent by someone else) waits for x-ratelimit-reset."""
    fake = FakeGitHub([generate(REPO, runs=3)], rate_window_s=1.0)
    fake.inject(403, remaining=0, message="API rate limit exceeded for installation")
    with serve(fake) as url:
        fetch(settings_for(url), RUNS)
    first, second = fake.api_requests(RUNS)
    assert (first.status, second.status) == (403, 200)
    assert second.at - first.at >= 0.2


def test_reserve_pauses_before_the_budget_runs_out() -> None:
    """Watching x-ratelimit-remaining, the client pauses at the reserve and never gets a 403."""
    fake = FakeGitHub([generate(REPO, runs=3)], rate_limit=2, rate_window_s=1.0)
    with serve(fake) as url:

        async def main() -> float:
            async with GitHubClient(settings_for(url, rate_limit_reserve=1)) as client:
                for _ in range(2):
                    await client.get(RUNS)
                return client.gate.paused_s

        paused = asyncio.run(main())
    assert [r.status for r in fake.api_requests(RUNS)] == [200] * 2
    assert paused > 0


def test_a_403_that_is_not_a_rate_limit_is_final(fake: FakeGitHub, api: str) -> None:
    """Forbidden without rate-limit signs is an auth error after one request."""
    fake.inject(403, message="Resource not accessible by integration")
    with pytest.raises(GitHubAuthError, match="not accessible"):
        fetch(settings_for(api), RUNS)
    assert len(fake.api_requests()) == 1


def test_server_errors_are_retried_then_succeed(fake: FakeGitHub, api: str) -> None:
    """Two 502s then the real answer: three requests, one result."""
    fake.inject(502, times=2)
    assert fetch(settings_for(api), RUNS).status == 200
    assert [r.status for r in fake.api_requests(RUNS)] == [502, 502, 200]


def test_server_errors_give_up_after_max_retries(fake: FakeGitHub, api: str) -> None:
    """A persistent 503 ends as GitHubUnavailable after 1 + max_retries requests."""
    fake.inject(503, times=100)
    with pytest.raises(GitHubUnavailable, match="503"):
        fetch(settings_for(api, max_retries=2), RUNS)
    assert len(fake.api_requests()) == 3


def test_an_unknown_repository_is_not_found(api: str) -> None:
    """404 becomes GitHubNotFound."""
    with pytest.raises(GitHubNotFound):
        fetch(settings_for(api), "repos/nobody/nothing/actions/runs")


def test_a_long_rate_limit_is_not_waited_out(fake: FakeGitHub, api: str) -> None:
    """A reset further away than max_rate_limit_wait_s fails with GitHubRateLimited."""
    fake.inject(429, retry_after=120)
    with pytest.raises(GitHubRateLimited):
        fetch(settings_for(api, max_rate_limit_wait_s=5), RUNS)


def test_logs_follow_the_redirect_and_are_cut_at_the_cap(fake: FakeGitHub, api: str) -> None:
    """The 302 to the short-lived URL is followed; the head or the tail is kept at the cap."""
    job_id = fake.repositories[0].runs[0].jobs[0][0]["id"]
    fake.logs[job_id] = b"a" * 3000 + b"z" * 2000
    path = f"repos/{REPO}/actions/jobs/{job_id}/logs"

    async def main() -> list[tuple[bytes, int]]:
        async with GitHubClient(settings_for(api)) as client:
            return [
                await client.download(path, 10_000),
                await client.download(path, 1000),
                await client.download(path, 1000, tail=True),
            ]

    whole, head, tail = asyncio.run(main())
    assert (len(whole[0]), whole[1]) == (5000, 5000)
    assert head[0] == b"a" * 1000  # reading stops once the head is full
    assert tail == (b"z" * 1000, 5000)
    assert [r.status for r in fake.requests][:2] == [302, 200]
    assert fake.requests[1].path == f"/_signed/logs/{job_id}"


def test_concurrency_is_bounded(api: str) -> None:
    """No more than `concurrency` requests are in flight at once."""
    fake = FakeGitHub([generate(REPO, runs=3)], latency_s=(0.1, 0.1))
    with serve(fake) as url:

        async def main() -> float:
            async with GitHubClient(settings_for(url, concurrency=2)) as client:
                start = time.monotonic()
                await asyncio.gather(*(client.get(RUNS) for _ in range(6)))
                return time.monotonic() - start

        elapsed = asyncio.run(main())
    assert elapsed >= 0.3  # six requests of 0.1 s, two at a time
