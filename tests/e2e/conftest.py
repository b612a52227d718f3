"""Fixtures of the end-to-end tests: a headless Chromium, pages that record their errors, and a
store holding a real dataset."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.browser import CHROMIUM, FLAGS
from tests.support.paths import DATASETS
from tests.support.server import cli_env, run_cli


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


@pytest.fixture(scope="session")
def microservices_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file the microservices dataset was imported into once, by the CLI.

    Tests copy it (``tests.support.templates.copy_database``) before they change anything.
    """
    work = tmp_path_factory.mktemp("microservices")
    path = work / "ct.db"
    env = cli_env(data_dir=str(work), database_url=f"sqlite:///{path}")
    result = run_cli("import", str(DATASETS / "gha-microservices-5repos.jsonl.gz"), env=env)
    assert result.returncode == 0, result.stderr
    return path
