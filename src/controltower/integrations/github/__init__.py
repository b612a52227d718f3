"""GitHub's REST API through githubkit: authentication, rate limits, retries, pagination."""

from controltower.integrations.github.client import ApiResponse, GitHubClient
from controltower.integrations.github.retry import Failure, retry_delay

__all__ = ["ApiResponse", "Failure", "GitHubClient", "retry_delay"]
