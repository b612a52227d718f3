"""The dashboard in a real headless Chromium: pages load cleanly, charts draw, links drill down.

Screenshots of every page are saved under ``test-artifacts/screenshots/`` for review.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.paths import DATASETS, REPO
from tests.support.server import Process, cli_env, run_cli, start_server

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = REPO / "test-artifacts" / "screenshots"
QUERY = "?days=90"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """A server over the real microservices history."""
    work = tmp_path_factory.mktemp("dashboard")
    env = cli_env(
        data_dir=str(work),
        database_url=f"sqlite:///{work / 'ct.db'}",
        github__webhook_secret="dashboard",
    )
    assert (
        run_cli("import", str(DATASETS / "gha-microservices-5repos.jsonl.gz"), env=env).returncode
        == 0
    )
    process = start_server(env, work / "server.log")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page that records console errors and uncaught exceptions."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.mark.parametrize(
    ("name", "path", "charts"),
    [
        ("overview", "/", 2),
        ("repository", "/repositories/hmcts/ccpay-payment-app", 2),
        ("dora", "/dora", 0),
        ("cost", "/cost", 1),
    ],
)
def test_every_page_loads_without_errors_and_draws_its_charts(
    server: Process, page: Page, name: str, path: str, charts: int
) -> None:
    """Each page answers 200, logs no console error, and plotly draws each chart."""
    response = page.goto(f"{server.url}{path}{QUERY}")
    assert response is not None
    assert response.status == 200
    if charts:
        page.wait_for_function(
            f"document.querySelectorAll('.chart .main-svg').length >= {charts}", timeout=15000
        )
    assert page.locator(".chart").count() == charts
    for chart in page.locator(".chart").all():
        assert chart.get_attribute("role") == "img"
        assert chart.get_attribute("aria-label")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]


def test_drilling_down_keeps_the_filters(server: Process, page: Page) -> None:
    """From the overview, a repository link opens its page with the same time range."""
    page.goto(f"{server.url}/{QUERY}")
    page.get_by_role("link", name="hmcts/ccpay-payment-app").click()
    page.wait_for_url("**/repositories/hmcts/ccpay-payment-app?days=90")
    assert page.get_by_role("heading", name="hmcts/ccpay-payment-app").is_visible()
    assert page.get_by_role("table", name="Workflows").locator("tbody tr").count() >= 1


def test_filters_apply_and_carry_into_the_navigation(server: Process, page: Page) -> None:
    """Submitting a branch filter narrows the view and every nav link keeps it."""
    page.goto(f"{server.url}/{QUERY}")
    page.get_by_label("Branch").fill("main")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/?days=90&branch=main*")
    href = page.get_by_role("link", name="Cost").get_attribute("href")
    assert href == "/cost?days=90&branch=main"
    rows = page.get_by_role("table", name="Repositories").locator("tbody tr")
    assert "hmcts/ccpay-payment-app" not in rows.all_inner_texts()[0]  # its CI runs on master
