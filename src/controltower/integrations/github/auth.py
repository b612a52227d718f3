"""Credentials for GitHub's REST API: a personal access token or a GitHub App.

A GitHub App authenticates with a JSON Web Token signed by its private key,
then exchanges it for an installation token that expires after an hour.
githubkit caches the installation token until one minute before its
``expires_at`` and asks for a new one after that, so a long backfill never
sends an expired token. Without a configured installation id, the
installation is looked up for the repository or organization being read.
"""

from __future__ import annotations

from typing import Any

from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.auth import BaseAuthStrategy
from githubkit.exception import GitHubException, RequestFailed
from githubkit.throttling import LocalThrottler

from controltower.config import GitHubSettings
from controltower.errors import (
    ConfigurationError,
    GitHubAuthError,
    GitHubNotFound,
    GitHubUnavailable,
)


def private_key(settings: GitHubSettings) -> str:
    """The App's private key (PEM) from ``private_key_path``, or a ``ConfigurationError``."""
    path = settings.private_key_path
    if path is None:
        raise ConfigurationError(
            "github.app_id is set but github.private_key_path is not: "
            "set CONTROLTOWER_GITHUB__PRIVATE_KEY_PATH to the App's .pem file"
        )
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the GitHub App private key {path}: {exc}") from exc
    if "PRIVATE KEY" not in text:
        raise ConfigurationError(f"{path} is not a PEM private key")
    return text


def app_strategy(settings: GitHubSettings) -> AppAuthStrategy:
    """The App itself (JWT), for looking up installations."""
    assert settings.app_id is not None
    return AppAuthStrategy(settings.app_id, private_key(settings))


def strategy(settings: GitHubSettings, installation_id: int | None = None) -> BaseAuthStrategy:
    """The auth strategy the settings describe; a token wins over an App."""
    if settings.token is not None:
        return TokenAuthStrategy(settings.token.get_secret_value())
    if settings.app_id is not None:
        installation = installation_id or settings.installation_id
        if installation is None:
            raise ConfigurationError("no GitHub App installation id: set github.installation_id")
        return AppInstallationAuthStrategy(settings.app_id, private_key(settings), installation)
    raise ConfigurationError(
        "no GitHub credentials: set CONTROLTOWER_GITHUB__TOKEN, or "
        "CONTROLTOWER_GITHUB__APP_ID and CONTROLTOWER_GITHUB__PRIVATE_KEY_PATH"
    )


def make_github(settings: GitHubSettings, auth: BaseAuthStrategy, **options: Any) -> GitHub[Any]:
    """A githubkit client: our base URL and timeout, bounded concurrency, no cache, no retry.

    Retries are ours (``integrations.github.retry``), so githubkit's own are off;
    its HTTP cache would keep every response in memory during a backfill.
    """
    return GitHub(
        auth,
        base_url=settings.api_url + "/",
        timeout=settings.timeout_s,
        http_cache=False,
        auto_retry=False,
        throttler=LocalThrottler(settings.concurrency),
        user_agent="controltower",
        **options,
    )


async def find_installation(settings: GitHubSettings, scope: str) -> int:
    """The App installation for ``scope`` (``OWNER/NAME`` or an organization)."""
    path = f"repos/{scope}/installation" if "/" in scope else f"orgs/{scope}/installation"
    async with make_github(settings, app_strategy(settings)) as github:
        try:
            response = await github.arequest("GET", path)
        except RequestFailed as exc:
            status = exc.response.status_code
            if status == 404:
                raise GitHubNotFound(
                    f"the GitHub App is not installed on {scope}", status=404
                ) from exc
            if status in (401, 403):
                raise GitHubAuthError(
                    f"GitHub refused the App's JWT ({status})", status=status
                ) from exc
            raise GitHubUnavailable(
                f"looking up the installation for {scope}: {status}", status=status
            ) from exc
        except GitHubException as exc:
            raise GitHubUnavailable(f"looking up the installation for {scope}: {exc!r}") from exc
    return int(response.json()["id"])
