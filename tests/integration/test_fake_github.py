"""The fake GitHub server itself: it must behave as the real API where the client relies on it."""

from __future__ import annotations

import httpx

from tests.support.github_history import RUN_EXAMPLE, generate
from tests.support.github_server import FakeGitHub, serve

REPO = "octo-org/octo-repo"
AUTH = {"Authorization": "token test-token"}


def test_objects_are_the_fixture_examples_with_ids_and_dates_varied() -> None:
    """Every listed run has the example's fields; ids, numbers and dates differ run to run."""
    fake = FakeGitHub([generate(REPO, runs=4)])
    with serve(fake) as url:
        body = httpx.get(f"{url}/repos/{REPO}/actions/runs", headers=AUTH).json()
    runs = body["workflow_runs"]
    assert set(runs[0]) == set(RUN_EXAMPLE)
    assert len({r["id"] for r in runs}) == len({r["created_at"] for r in runs}) == 4


def test_listing_cap_stops_pages_but_total_count_counts_all() -> None:
    """Past the cap there are no more pages, though total_count says how many matched."""
    fake = FakeGitHub([generate(REPO, runs=15)], listing_cap=10)
    with serve(fake) as url:
        seen: list[dict[str, object]] = []
        next_url: str | None = f"{url}/repos/{REPO}/actions/runs?per_page=4"
        total = 0
        while next_url:
            response = httpx.get(next_url, headers=AUTH)
            total = response.json()["total_count"]
            seen += response.json()["workflow_runs"]
            next_url = response.links.get("next", {}).get("url")
    assert total == 15
    assert len(seen) == 10


def test_created_ranges_filter_runs() -> None:
    """created=a..b, >=a and a bare day select by creation time, inclusive."""
    fake = FakeGitHub([generate(REPO, runs=10)])  # from 2026-01-01T00:00, 7 minutes apart
    with serve(fake) as url:

        def count(created: str) -> int:
            params = {"created": created}
            response = httpx.get(f"{url}/repos/{REPO}/actions/runs", params=params, headers=AUTH)
            return int(response.json()["total_count"])

        assert count("2026-01-01T00:00:00Z..2026-01-01T00:14:00Z") == 3
        assert count(">=2026-01-01T00:50:00Z") == 2
        assert count("2026-01-01") == 10
        assert count("2025-12-31") == 0


def test_rate_limit_headers_count_down() -> None:
    """x-ratelimit-remaining falls by one per request; the reset is in the future."""
    fake = FakeGitHub([generate(REPO, runs=1)], rate_limit=10)
    with serve(fake) as url:
        first = httpx.get(f"{url}/rate_limit", headers=AUTH).headers
        second = httpx.get(f"{url}/rate_limit", headers=AUTH).headers
    assert int(first["x-ratelimit-remaining"]) - int(second["x-ratelimit-remaining"]) == 1
    assert int(first["x-ratelimit-limit"]) == 10


def test_log_urls_expire() -> None:
    """The redirect target of a job's logs stops working after its lifetime."""
    fake = FakeGitHub([generate(REPO, runs=1)], log_url_ttl_s=-1)
    job_id = fake.repositories[0].runs[0].jobs[0][0]["id"]
    with serve(fake) as url:
        redirect = httpx.get(f"{url}/repos/{REPO}/actions/jobs/{job_id}/logs", headers=AUTH)
        assert redirect.status_code == 302
        assert httpx.get(redirect.headers["location"]).status_code == 403
