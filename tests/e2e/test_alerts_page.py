"""The ``/alerts`` page in headless Chromium: acknowledge, silence and expire by clicking.

Every action is checked where it lands too: in the JSON API the page calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from controltower.config import AlertRule
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.telemetry.activity import Problem
from controltower.telemetry.alerts import evaluate
from tests.support.browser import A11Y_PROBLEMS, SHOTS
from tests.support.server import Process, cli_env, start_server

FAILING = Problem("failing-branch", "warning", "CI is failing on main", "x", None, "org/app", 7)
BACKLOG = Problem("ingest-backlog", "critical", "12000 deliveries waiting", "y")
OLD = Problem("failing-branch", "warning", "lint is failing on main", "z", None, "org/web", 8)


def _serve(tmp_path: Path, **settings: str) -> Process:
    """A server over a store with two firing alerts and one resolved an hour ago.

    Scheduled evaluation is off, so the alerts stay as stored while the page is used.
    """
    url = f"sqlite:///{tmp_path / 'ct.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    now = datetime.now(UTC)
    rules = [AlertRule(name="all problems")]
    with engine.begin() as conn:
        evaluate(conn, [FAILING, BACKLOG, OLD], rules, now - timedelta(hours=2))
        evaluate(conn, [FAILING, BACKLOG], rules, now - timedelta(hours=1))
    engine.dispose()
    env = cli_env(
        data_dir=str(tmp_path),
        database_url=url,
        github__webhook_secret="alerts",
        alerts__enabled="false",
        **settings,
    )
    return start_server(env, tmp_path / "server.log")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Process]:
    process = _serve(tmp_path)
    yield process
    process.stop()


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Process]:
    slack = '{"slack": ["json://127.0.0.1:9/hook"]}'  # a channel with a URL (never reached here)
    process = _serve(tmp_path, server__api_token="page-token", alerts__channels=slack)
    yield process
    process.stop()


def _alert(server: Process, title: str) -> dict[str, object]:
    everything = httpx.get(f"{server.url}/api/v1/alerts", params={"state": "all"}).json()
    found: dict[str, object] = next(a for a in everything if a["title"] == title)
    return found


def test_acknowledge_silence_and_expire_from_the_alerts_page(server: Process, page: Page) -> None:
    """Firing alerts show; acknowledging and silencing mark them (and the API agrees); expire."""
    page.goto(f"{server.url}/")
    page.get_by_role("link", name="2 firing").click()
    page.wait_for_url("**/alerts")
    firing = page.get_by_role("table", name="Firing (2)")
    assert firing.locator("tbody tr").count() == 2
    assert "12000 deliveries waiting" in firing.locator("tbody tr").first.inner_text()
    resolved = page.get_by_role("table", name="Resolved in the last 7 days")
    assert "lint is failing on main" in resolved.inner_text()
    assert page.evaluate(A11Y_PROBLEMS) == []
    states = [row.inner_text() for row in firing.locator("tbody tr").all()]
    assert "on the dashboard only: no channel with a URL for critical" in states[0]
    assert "on the dashboard only: no channel with a URL for warning" in states[1]

    page.get_by_label("Your name").fill("ana")
    page.get_by_label("Your name").dispatch_event("change")
    ack = page.get_by_role("button", name="Acknowledge: CI is failing on main")
    ack.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    row = page.get_by_role("table", name="Firing (2)").locator("tr", has_text="CI is failing")
    assert "acknowledged by ana" in row.inner_text()
    stored = _alert(server, "CI is failing on main")
    assert (stored["acknowledged"], stored["acknowledged_by"]) == (True, "ana")
    why = {"by": "ben", "note": "rerunning the flaky job"}
    httpx.post(f"{server.url}/api/v1/alerts/{stored['id']}/ack", json=why).raise_for_status()
    page.reload()
    row = page.get_by_role("table", name="Firing (2)").locator("tr", has_text="CI is failing")
    assert "acknowledged by ben: “rerunning the flaky job”" in row.inner_text()
    assert page.get_by_label("Your name").input_value() == "ana"  # remembered across reloads

    with page.expect_navigation():
        page.get_by_role("button", name="Silence for 4 h: 12000 deliveries waiting").click()
    silences = page.get_by_role("table", name="Silences in force (1)")
    assert "ana" in silences.inner_text()
    assert "the alert “12000 deliveries waiting”" in silences.inner_text()  # not its key
    backlog = page.get_by_role("table", name="Firing (2)").locator("tr", has_text="12000")
    assert "silenced until" in backlog.inner_text()
    assert _alert(server, "12000 deliveries waiting")["silenced"] is True
    active = httpx.get(f"{server.url}/api/v1/silences", params={"active": True}).json()
    assert [(s["key"], s["created_by"]) for s in active] == [("ingest-backlog", "ana")]
    ends = datetime.fromisoformat(active[0]["ends_at"])
    assert ends - datetime.fromisoformat(active[0]["starts_at"]) == timedelta(hours=4)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "alerts.png"), full_page=True)

    with page.expect_navigation():
        page.get_by_role("button", name=f"Expire silence {active[0]['id']} now").click()
    assert page.get_by_role("table", name="Silences in force (0)").is_visible()
    assert _alert(server, "12000 deliveries waiting")["silenced"] is False
    assert len(httpx.get(f"{server.url}/api/v1/silences").json()) == 1  # kept as history
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_refused_action_says_why_and_changes_nothing(server: Process, page: Page) -> None:
    """Acknowledging with no name shows the API's reason in an alert region; nothing is stored."""
    page.goto(f"{server.url}/alerts")
    page.get_by_label("Your name").fill("")
    page.get_by_role("button", name="Acknowledge: CI is failing on main").click()
    message = page.get_by_role("alert")
    message.wait_for()
    assert message.inner_text().startswith("Not done:")
    assert _alert(server, "CI is failing on main")["acknowledged"] is False


def test_with_an_api_token_the_page_asks_for_it_and_sends_it(guarded: Process, page: Page) -> None:
    """The server wants a token: the page shows a token field; without it an action is refused
    with the reason and nothing changes; with it the action goes through."""
    page.goto(f"{guarded.url}/alerts")
    rows = page.get_by_role("table", name="Firing (2)").locator("tbody tr")
    assert "notifying slack" in rows.first.inner_text()  # critical: PagerDuty has no URL here
    field = page.get_by_label("API token")
    assert field.get_attribute("type") == "password"
    page.get_by_role("button", name="Acknowledge: CI is failing on main").click()
    message = page.get_by_role("alert")
    message.wait_for()
    assert "needs the API token" in message.inner_text()
    assert _alert(guarded, "CI is failing on main")["acknowledged"] is False
    field.fill("page-token")
    field.dispatch_event("change")
    with page.expect_navigation():
        page.get_by_role("button", name="Acknowledge: CI is failing on main").click()
    assert _alert(guarded, "CI is failing on main")["acknowledged"] is True
    assert page.get_by_label("API token").input_value() == "page-token"  # kept for the tab
    assert page.evaluate(A11Y_PROBLEMS) == []


def test_on_a_phone_every_alerts_button_is_in_view(server: Process, page: Page) -> None:
    """At 375 px a firing alert's row stacks its cells: its buttons wrap within the window
    instead of sitting at the end of a table scrolled sideways."""
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{server.url}/alerts")
    firing = page.get_by_role("table", name="Firing (2)")
    assert firing.evaluate("t => t.scrollWidth <= t.clientWidth")
    for button in firing.get_by_role("button").all():
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 375
    assert page.evaluate(A11Y_PROBLEMS) == []
