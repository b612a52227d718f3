"""The ``/models`` page in headless Chromium: the registry, promote and roll back by clicking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from controltower.intelligence import registry
from controltower.store import schema
from controltower.store.engine import make_engine
from tests.support.browser import A11Y_PROBLEMS, SHOTS
from tests.support.predictions import trained_version, trained_with_jobs
from tests.support.server import Process, cli_env, start_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Process]:
    """A server with a token over a store with version 1 live and version 2 a candidate."""
    url = f"sqlite:///{tmp_path / 'ct.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    with engine.begin() as conn:
        registry.promote(conn, registry.register(conn, *trained_version()).version)
        registry.register(conn, *trained_with_jobs())
    engine.dispose()
    env = cli_env(
        data_dir=str(tmp_path),
        database_url=url,
        github__webhook_secret="models",
        server__api_token="models-token",
    )
    process = start_server(env, tmp_path / "server.log")
    yield process
    process.stop()


def _live(server: Process) -> int:
    listed = httpx.get(f"{server.url}/api/v1/models").json()
    return int(next(v["version"] for v in listed if v["status"] == "live"))


def test_promote_and_roll_back_from_the_models_page(server: Process, page: Page) -> None:
    """Without the token a promotion is refused and nothing changes; with it, then rolled back."""
    page.goto(f"{server.url}/")
    page.get_by_role("link", name="Models", exact=True).click()
    page.wait_for_url("**/models")
    assert page.get_by_role("table", name="Failure of runs").is_visible()
    assert page.evaluate(A11Y_PROBLEMS) == []
    shown = page.locator("main").inner_text()
    assert "against previous run" in shown  # the baselines' names in words, as the columns
    assert "median5" not in shown
    assert "history_rate" not in shown
    page.get_by_role("button", name="Make version 2 live").click()
    message = page.get_by_role("alert")
    message.wait_for()
    assert "needs the API token" in message.inner_text()
    assert _live(server) == 1
    field = page.get_by_label("API token")
    field.fill("models-token")
    field.dispatch_event("change")
    with page.expect_navigation():
        page.get_by_role("button", name="Make version 2 live").click()
    assert _live(server) == 2
    jobs = page.get_by_role("table", name="Failure of jobs")
    assert jobs.is_visible()
    assert "model" in jobs.inner_text()
    timed = page.get_by_role("table", name="Duration of successful jobs").inner_text()
    assert "median of last 5" in timed
    assert "model" in timed
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "models.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Roll back from version 2").click()
    assert _live(server) == 1
    assert page.get_by_role("button", name="Make version 2 live").is_visible()

    # on a phone: the versions' rows stack with their buttons in view; the margins stay readable
    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()
    box = page.get_by_role("button", name="Make version 2 live").bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 375
    margin = page.get_by_role("table", name="Failure of runs").locator("td.prose").first
    assert margin.evaluate("td => td.getBoundingClientRect().width") >= 180
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
