"""The dashboard in a real headless Chromium: pages load cleanly, charts draw, links drill down.

Screenshots of every page are saved under ``test-artifacts/screenshots/`` for review.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, delete, func, insert, select

from controltower.intelligence.capability import CACHE_S, switch_mode
from controltower.store.anomalies import anomalies_t, record
from controltower.store.tables import (
    CapabilityChange,
    Job,
    Repository,
    Workflow,
    WorkflowRun,
    table_of,
)
from tests.support.browser import A11Y_PROBLEMS, CHART_PROBLEMS, SHOTS
from tests.support.server import Process, cli_env, start_server
from tests.support.templates import copy_database

runs_t, repos_t, workflows_t = table_of(WorkflowRun), table_of(Repository), table_of(Workflow)
jobs_t, capabilities_t = table_of(Job), table_of(CapabilityChange)

QUERY = "?days=90"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, microservices_db: Path) -> Iterator[Process]:
    """A server over the real microservices history (a copy of it: the tests change it).

    Without the background worker: its anomaly pass, on the quarter hour,
    would resolve the anomaly a test records when it does not find it itself.
    """
    work = tmp_path_factory.mktemp("dashboard")
    env = cli_env(
        data_dir=str(work),
        database_url=copy_database(microservices_db, work / "ct.db"),
        github__webhook_secret="dashboard",
    )
    process = start_server(env, work / "server.log", "--no-worker")
    process.extra["database_url"] = env["CONTROLTOWER_DATABASE_URL"]
    yield process
    process.stop()


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
    """Each page answers 200, logs no console error, plotly draws each chart, labels are set."""
    response = page.goto(f"{server.url}{path}{QUERY}")
    assert response is not None
    assert response.status == 200
    check_page(page, name, charts)


def check_page(page: Page, name: str, charts: int) -> None:
    """Charts drawn, labelled for screen readers, no console error; a screenshot saved."""
    if charts:
        page.wait_for_function(
            f"document.querySelectorAll('.chart .main-svg').length >= {charts}", timeout=15000
        )
    assert page.locator(".chart").count() == charts
    assert page.evaluate(A11Y_PROBLEMS) == []
    assert page.evaluate(CHART_PROBLEMS) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]


def test_drill_down_from_repository_to_workflow_run_and_job(server: Process, page: Page) -> None:
    """Repository → workflow → run → job by clicking, filters kept, each page complete."""
    page.goto(f"{server.url}/repositories/collinbarrett/FilterLists{QUERY}")
    page.get_by_role("table", name="Workflows").get_by_role(
        "link", name="Web - Build & Deploy", exact=True
    ).click()
    page.wait_for_url("**/repositories/collinbarrett/FilterLists/workflows/*?days=90")
    assert page.get_by_role("heading", name="Web - Build & Deploy", level=1).is_visible()
    assert page.get_by_role("table", name="Slowest jobs").locator("tbody tr").count() >= 2
    assert page.get_by_role("table", name="Slowest steps").locator("tbody tr").count() >= 5
    check_page(page, "workflow", 3)

    page.get_by_role("table", name="Recent runs").get_by_role("link", name="run ").first.click()
    page.wait_for_url("**/repositories/collinbarrett/FilterLists/runs/*?days=90&attempt=*")
    critical = page.get_by_text("Critical path:")
    assert "Critical path: Build & Push Docker Image" in critical.inner_text()
    jobs = page.get_by_role("table", name="Jobs")
    assert jobs.locator("tbody tr").count() == 2
    check_page(page, "run", 1)

    jobs.get_by_role("link", name="Build & Push Docker Image").click()
    page.wait_for_url("**/repositories/collinbarrett/FilterLists/runs/*/jobs/*?days=90")
    assert page.get_by_role("heading", name="Build & Push Docker Image", level=1).is_visible()
    assert page.get_by_role("table", name="Steps", exact=True).locator("tbody tr").count() >= 3
    check_page(page, "job", 3)
    # the job's history spans the whole period, as the workflow's trends do, so a stop shows
    history = page.locator('[data-chart="chart-history"] .chart')
    span = history.evaluate("el => el.layout.xaxis.range")
    first = page.get_by_role("form", name="Filters").inner_text().split(" – ")[0].split()[-1]
    assert span[0][:10] < first <= span[1][:10]
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    crumbs.get_by_role("link", name="Web - Build & Deploy").click()
    page.wait_for_url("**/workflows/*?days=90")


def _first_cells(html: str, table: str) -> list[str]:
    """The text of the first cell of each body row of the table labelled ``table``."""
    body = html.split(f'<table aria-label="{table}">', 1)[1].split("</table>", 1)[0]
    return [unescape(cell) for cell in re.findall(r"<tr><td>([^<]*)</td>", body)]


def test_slowest_jobs_leave_out_jobs_that_only_ever_skipped(server: Process) -> None:
    """jod-yksilo-ui's deploy jobs are skipped on every run (their "/ deploy" jobs do the work):
    the repository's and workflow's slowest jobs list only jobs that ran."""
    page = httpx.get(f"{server.url}/repositories/Opetushallitus/jod-yksilo-ui{QUERY}")
    listed = _first_cells(page.text, "Slowest jobs")
    assert "Build · Build" in listed
    assert "Build · Deploy to development / deploy" in listed
    assert "Build · Deploy to development" not in listed
    assert "Build · Deploy to testing" not in listed
    workflow = re.search(r'href="(/repositories/[^"]+/workflows/\d+)[^"]*">Build</a>', page.text)
    assert workflow is not None
    jobs = _first_cells(httpx.get(f"{server.url}{workflow[1]}{QUERY}").text, "Slowest jobs")
    assert "Build" in jobs
    assert not {"Deploy to development", "Deploy to testing"} & set(jobs)


# The success-rate line as drawn: its points and the pieces of line plotly drew (one per run of
# days with runs, where the days between have none)
SUCCESS_LINE = """() => {
  const chart = document.querySelector('[data-chart="chart-success"] .chart');
  const trace = chart.querySelector('.scatterlayer .trace');
  const pieces = [...trace.querySelectorAll('path.js-line')]
    .map(p => (p.getAttribute('d') || '').split('M').length - 1);
  return {x: chart.data[0].x, y: chart.data[0].y, pieces: pieces.reduce((a, b) => a + b, 0)};
}"""


def test_days_without_runs_break_the_success_rate_line(server: Process, page: Page) -> None:
    """FilterLists ran no workflow from 5 to 8 July 2025: those days are gaps in the line, not
    0 % and not a line drawn across them."""
    page.goto(f"{server.url}/repositories/collinbarrett/FilterLists{QUERY}")
    page.wait_for_function("document.querySelectorAll('.chart .main-svg').length >= 2")
    line = page.evaluate(SUCCESS_LINE)
    empty = [line["y"][line["x"].index(f"2025-07-0{day}")] for day in (5, 6, 7, 8)]
    assert empty == [None] * 4
    assert line["y"][line["x"].index("2025-07-04")] is not None
    assert line["pieces"] > 1
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_overview_lists_problems_deployments_and_events(server: Process, page: Page) -> None:
    """Failing default branches are problems; deploy workflows are deployments; a feed."""
    page.goto(f"{server.url}/{QUERY}")
    problems = page.get_by_role("region", name="Active problems")
    assert problems.get_by_role("listitem").count() >= 1
    assert "is failing on" in problems.inner_text() or "No active problems" in problems.inner_text()
    deployments = page.get_by_role("table", name="Recent deployments").locator("tbody tr")
    assert deployments.count() >= 1
    assert "workflow: " in deployments.first.inner_text()
    feed = page.get_by_role("region", name="Recent events").get_by_role("listitem")
    assert feed.count() == 25
    check_page(page, "overview-panels", 2)


def test_the_repositories_change_column_says_what_changed_against_what(
    server: Process, page: Page
) -> None:
    """The column of signed deltas is named, for screen readers too, as the success rate's change
    against the previous period, and its cells are changes in percentage points."""
    page.goto(f"{server.url}/{QUERY}")
    table = page.get_by_role("table", name="Repositories")
    headers = table.get_by_role("columnheader")
    names = [str(h.text_content()).strip() for h in headers.all()]
    column = names.index("Success rate change vs previous period")
    header = table.get_by_role("columnheader", name="Success rate change vs previous period")
    expect(header).to_have_count(1)
    cell = table.locator("tbody tr").first.get_by_role("cell").nth(column)
    assert str(cell.text_content()).endswith(" pp") or cell.text_content() == "–"


def test_the_dashboard_works_from_the_keyboard(server: Process, page: Page) -> None:
    """The first Tab reaches the skip link; tabbing on reaches a repository, Enter opens it."""
    page.goto(f"{server.url}/{QUERY}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "hmcts/ccpay-payment-app":
            break
    else:
        pytest.fail("no repository link reached by Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/repositories/hmcts/ccpay-payment-app?days=90")


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


def test_cost_by_repository_and_workflow_links_to_their_pages(server: Process, page: Page) -> None:
    """The costliest workflow's row opens its workflow page, with the filters kept."""
    page.goto(f"{server.url}/cost{QUERY}")
    repositories = page.get_by_role("table", name="Cost by repository").locator("tbody tr")
    assert repositories.count() == 5
    workflows = page.get_by_role("table", name="Cost by workflow")
    top = workflows.locator("tbody tr").first.get_by_role("link")
    name = top.inner_text()
    top.click()
    page.wait_for_url("**/workflows/*?days=90")
    assert page.get_by_role("heading", level=1).inner_text() == name.split(" · ", 1)[1]


def test_a_chart_with_nothing_to_draw_says_so(server: Process, page: Page) -> None:
    """A branch that never ran: no empty axes, a line saying there is nothing to draw."""
    page.goto(f"{server.url}/?days=90&branch=no-such-branch")
    empty = page.locator(".chart.empty")
    expect(empty).to_have_count(2)
    expect(empty.first).to_have_text("Nothing to draw: no runs in this period match the filters.")
    assert page.locator(".chart .main-svg").count() == 0
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_cleared_field_is_the_default_and_a_bad_one_a_page_that_says_so(
    server: Process, page: Page
) -> None:
    """Days left empty shows the default 30 days; a wrong value or address an error page."""
    page.goto(f"{server.url}/{QUERY}")
    page.get_by_label("Days").fill("")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/?days=&*")
    assert page.get_by_label("Days").input_value() == "30"
    check_page(page, "overview-default-days", 2)
    for path, status, words in (
        ("/?days=0", 422, "days: Input should be greater than or equal to 1"),
        ("/repositories/nobody/nothing", 404, "no repository nobody/nothing"),
        ("/no/such/page", 404, "there is no page at /no/such/page"),
    ):
        response = page.goto(f"{server.url}{path}")
        assert response is not None
        assert (response.status, response.headers["content-type"].split(";")[0]) == (
            status,
            "text/html",
        )
        expect(page.get_by_role("alert")).to_have_text(words)
        assert page.get_by_role("link", name="back to the overview").is_visible()
        assert page.evaluate(A11Y_PROBLEMS) == []


ANOMALY_TRACES = """() => Array.from(document.querySelectorAll('.chart'))
  .filter(el => el.data).map(el => el.data.filter(t => t.name === 'anomaly')
  .map(t => ({x: t.x, text: t.text})))"""


def test_anomalies_are_listed_on_the_overview_and_marked_on_their_charts(
    server: Process, page: Page
) -> None:
    """A recorded slowdown is a row of the overview's panel and a mark on its duration chart."""
    engine = create_engine(server.extra["database_url"])
    with engine.begin() as conn:
        found = conn.execute(
            select(workflows_t.c.name, func.max(runs_t.c.created_at))
            .join(runs_t, runs_t.c.workflow_id == workflows_t.c.id)
            .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
            .where(repos_t.c.full_name == "hmcts/ccpay-payment-app")
            .group_by(workflows_t.c.name)
            .order_by(func.count().desc())
        ).first()
        assert found is not None
        workflow, day = found
        series = f"hmcts/ccpay-payment-app · {workflow}"
        row = {
            "series": series,
            "metric": "duration",
            "unit": "s",
            "kind": "level_shift",
            "severity": "critical",
            "started_at": day,
            "detected_at": day,
            "expected": 600.0,
            "observed": 900.0,
            "score": 12.0,
            "usd_per_month": None,
            "trigger": {"commit": "0123456789abcdef", "workflow_files": ".github/workflows/ci.yml"},
        }
        record(conn, [row], day)
    try:
        page.goto(f"{server.url}/{QUERY}")
        panel = page.get_by_role("table", name="Active anomalies")
        text = panel.locator("tbody tr").first.inner_text()
        assert f"level shift in duration of {series}" in text
        assert "15.0 min against a normal 10.0 min (+50%)" in text
        assert ".github/workflows/ci.yml changed, first run of commit 0123456789" in text

        page.goto(f"{server.url}/repositories/hmcts/ccpay-payment-app{QUERY}")
        page.wait_for_function("document.querySelectorAll('.chart .main-svg').length >= 2")
        marks = page.evaluate(ANOMALY_TRACES)
        assert marks[0] == []  # the success-rate chart: not a failure anomaly
        assert marks[1][0]["x"] == [day.date().isoformat()]
        assert "critical: level shift in duration" in marks[1][0]["text"][0]
        assert page.errors == []  # type: ignore[attr-defined]

        page.goto(f"{server.url}/repositories/collinbarrett/FilterLists{QUERY}")
        page.wait_for_function("document.querySelectorAll('.chart .main-svg').length >= 2")
        assert page.evaluate(ANOMALY_TRACES) == [[], []]  # another repository's charts

        # a verdict from the panel: real, taken back, then not an anomaly (it leaves the panel)
        page.goto(f"{server.url}/{QUERY}")
        page.get_by_label("Your name").fill("ana")
        title = f"level shift in duration of {series}"
        page.get_by_role("button", name=f"Confirm as real: {title}").click()
        first_row = panel.locator("tbody tr").first
        expect(first_row).to_contain_text("confirmed by ana")
        page.get_by_role("button", name=f"Take back the verdict: {title}").click()
        expect(page.get_by_role("button", name=f"Confirm as real: {title}")).to_be_visible()
        page.get_by_role("button", name=f"Dismiss, not an anomaly: {title}").click()
        expect(panel).not_to_contain_text(title)
        with engine.connect() as conn:
            verdict = conn.execute(
                select(anomalies_t.c.verdict, anomalies_t.c.verdict_by).where(
                    anomalies_t.c.series == series
                )
            ).one()
        assert tuple(verdict) == ("dismissed", "ana")
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        with engine.begin() as conn:
            conn.execute(delete(anomalies_t).where(anomalies_t.c.series == series))
        engine.dispose()


def test_the_anomalies_page_pages_filters_and_takes_verdicts(server: Process, page: Page) -> None:
    """Every recorded anomaly, 50 a page, newest first; a verdict from a row; a filter by it."""
    engine = create_engine(server.extra["database_url"])
    now = datetime.now(UTC)
    rows = [
        {
            "series": f"org/paged · CI {n:02d}",
            "metric": "duration",
            "unit": "s",
            "kind": "level_shift",
            "severity": "warning",
            "started_at": now - timedelta(days=60 - n),
            "detected_at": now - timedelta(days=59 - n),
            "expected": 600.0,
            "observed": 800.0,
            "score": 9.0,
            "usd_per_month": None,
            "trigger": None,
            "first_seen_at": now,
            "last_seen_at": now,
            "resolved_at": now,
        }
        for n in range(55)
    ]
    with engine.begin() as conn:
        conn.execute(insert(anomalies_t), rows)
    try:
        page.goto(f"{server.url}/anomalies")
        table = page.get_by_role("table", name="Recorded anomalies")
        assert page.get_by_role("heading", name="Recorded anomalies 1–50").is_visible()
        assert table.locator("tbody tr").count() == 50
        assert "of org/paged · CI 54" in table.locator("tbody tr").first.inner_text()
        check_page(page, "anomalies", 0)
        page.get_by_role("link", name="Older").click()
        expect(page.get_by_role("heading", name="Recorded anomalies 51–55")).to_be_visible()
        assert table.locator("tbody tr").count() == 5
        assert "of org/paged · CI 00" in table.locator("tbody tr").last.inner_text()
        assert page.get_by_role("link", name="Older").count() == 0

        page.get_by_role("link", name="Newer").click()
        page.get_by_label("Your name").fill("ana")
        title = "level shift in duration of org/paged · CI 54"
        page.get_by_role("button", name=f"Confirm as real: {title}").click()
        expect(table.locator("tbody tr").first).to_contain_text("confirmed by ana")
        page.get_by_label("Verdict", exact=True).select_option("confirmed")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**/anomalies?verdict=confirmed*")
        assert table.locator("tbody tr").count() == 1
        assert title in table.inner_text()
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        with engine.begin() as conn:
            conn.execute(delete(anomalies_t).where(anomalies_t.c.series.like("org/paged%")))
        engine.dispose()


def test_an_anomaly_links_to_its_workflow_over_a_period_that_shows_where_it_began(
    server: Process, page: Page
) -> None:
    """From the anomalies page, an anomaly that began weeks before the newest run opens its
    workflow's page over a period reaching back to it, with its mark on the duration chart on
    the day it began and its likely trigger beside it."""
    engine = create_engine(server.extra["database_url"])
    with engine.begin() as conn:
        workflow, day = conn.execute(
            select(workflows_t.c.name, runs_t.c.created_at)
            .join(runs_t, runs_t.c.workflow_id == workflows_t.c.id)
            .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
            .where(repos_t.c.full_name == "collinbarrett/FilterLists")
            .where(workflows_t.c.name == "Web - Build & Deploy")
            .order_by(runs_t.c.created_at.desc())
            .offset(150)
            .limit(1)
        ).one()
        series = f"collinbarrett/FilterLists · {workflow}"
        row = {
            "series": series,
            "metric": "duration",
            "unit": "s",
            "kind": "level_shift",
            "severity": "warning",
            "started_at": day,
            "detected_at": day,
            "expected": 60.0,
            "observed": 90.0,
            "score": 9.0,
            "usd_per_month": None,
            "trigger": {"commit": "fedcba9876", "workflow_files": ".github/workflows/web.yml"},
            "first_seen_at": day,
            "last_seen_at": day,
            "resolved_at": day,
        }
        conn.execute(insert(anomalies_t), [row])
    try:
        page.goto(f"{server.url}/anomalies")
        title = f"level shift in duration of {series}"
        anomaly = page.get_by_role("table", name="Recorded anomalies").locator(
            "tbody tr", has_text=title
        )
        expect(anomaly).to_contain_text(".github/workflows/web.yml changed, first run of commit")
        anomaly.get_by_role("link", name=f"{title}: where it began").click()
        page.wait_for_url("**/repositories/collinbarrett/FilterLists/workflows/*?days=*")
        assert page.get_by_role("heading", name=workflow, level=1).is_visible()
        first = page.get_by_role("form", name="Filters").inner_text().split(" – ")[0].split()[-1]
        assert first < day.date().isoformat()
        page.wait_for_function("document.querySelectorAll('.chart .main-svg').length >= 2")
        marks = page.evaluate(ANOMALY_TRACES)
        assert marks[1][0]["x"] == [day.date().isoformat()]
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        with engine.begin() as conn:
            conn.execute(delete(anomalies_t).where(anomalies_t.c.series == series))
        engine.dispose()


def test_the_capabilities_page_shows_each_mode_its_source_its_switches_and_the_command(
    server: Process, page: Page
) -> None:
    """Read-only: prediction in the settings' mode, never switched; after a switch (made as the
    CLI makes it) its mode, who, when and why, and the command to switch it, without buttons."""
    page.goto(f"{server.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Capabilities").click()
    page.wait_for_url("**/capabilities")
    modes = page.get_by_role("table", name="Modes now")
    row = modes.locator("tbody tr", has_text="prediction")
    expect(row).to_contain_text("shadow")
    expect(row).to_contain_text("the settings (intelligence.mode)")
    expect(row).to_contain_text("10% of runs (fixed by run id)")
    expect(row).to_contain_text("never switched")
    command = "controltower capability set prediction off|shadow|canary|on --reason TEXT"
    expect(row.locator("code")).to_have_text(command)
    assert page.get_by_role("button").count() == 0
    engine = create_engine(server.extra["database_url"])
    with engine.begin() as conn:
        switch_mode(conn, "prediction", "canary", changed_by="cli:ana", reason="trying it")
    try:
        time.sleep(CACHE_S + 0.1)  # the server reads switches at most CACHE_S seconds old
        page.reload()
        expect(row).to_contain_text("canary")
        expect(row).to_contain_text("switched live")
        expect(row).to_contain_text("by cli:ana: trying it")
        switches = page.get_by_role("table", name="Switches of prediction").locator("tbody tr")
        expect(switches).to_have_count(1)
        expect(switches.first).to_contain_text("canary")
        link = page.get_by_role("link", name="Capabilities")
        assert link.get_attribute("aria-current") == "page"
        check_page(page, "capabilities", 0)
    finally:
        with engine.begin() as conn:
            conn.execute(delete(capabilities_t).where(capabilities_t.c.changed_by == "cli:ana"))
        engine.dispose()


@pytest.mark.parametrize(
    ("path", "title"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")]
)
def test_the_api_reference_draws_from_the_server_alone(
    server: Process, page: Page, path: str, title: str
) -> None:
    """Swagger UI and ReDoc load their scripts from controltower, never a CDN, and draw the API."""
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    response = page.goto(f"{server.url}/docs")
    assert response is not None
    assert response.status == 200
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("controltower", timeout=15000)
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    local = (server.url, f"blob:{server.url}", "data:")  # a web worker's script is a blob
    assert [url for url in asked if not url.startswith(local)] == []
    assert page.errors == []  # type: ignore[attr-defined]


CHARTS_DRAWN = """() => [...document.querySelectorAll('.chart')]
  .every(c => c.classList.contains('empty') || c.querySelector('.main-svg'))"""


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/repositories/collinbarrett/FilterLists",
        "/cost",
        "/anomalies",
        "/models",
        "/alerts",
        "/capabilities",
        "run",
    ],
)
def test_a_phone_sized_window_scrolls_tables_not_the_page_and_charts_keep_their_labels(
    server: Process, page: Page, path: str
) -> None:
    """At 390 px wide the page itself is no wider than the window: wide tables scroll inside;
    every chart's tick labels lie within it (the run timeline's times stood on end, the date
    under the first cut off)."""
    address = f"{server.url}{path}{QUERY}"
    if path == "run":  # the newest run of a repository with jobs and a timeline
        page.goto(f"{server.url}/repositories/collinbarrett/FilterLists{QUERY}")
        link = page.get_by_role("table", name="Recent runs").get_by_role("link", name="run ")
        address = f"{server.url}{link.first.get_attribute('href')}"  # with its filters
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(address)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.wait_for_function(CHARTS_DRAWN)
    assert page.evaluate(CHART_PROBLEMS) == []
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_run_reported_unfinished_long_ago_is_not_shown_as_going_on(
    server: Process, page: Page
) -> None:
    """A run GitHub last reported in progress months ago has ended since: the lists and its page
    say its end is not known, with no duration; the run page has no filters, which select
    nothing there."""
    engine = create_engine(server.extra["database_url"])
    with engine.begin() as conn:
        newest = conn.execute(
            select(runs_t.c.id, runs_t.c.run_id, runs_t.c.status, runs_t.c.conclusion)
            .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
            .where(repos_t.c.full_name == "collinbarrett/FilterLists")
            .order_by(runs_t.c.created_at.desc())
            .limit(1)
        ).one()
        conn.execute(
            runs_t.update()
            .where(runs_t.c.id == newest.id)
            .values(status="in_progress", conclusion=None)
        )
        job = conn.execute(
            select(jobs_t.c.id, jobs_t.c.name, jobs_t.c.status, jobs_t.c.conclusion)
            .where(jobs_t.c.run_pk == newest.id)
            .order_by(jobs_t.c.id)
            .limit(1)
        ).one()
        conn.execute(
            jobs_t.update()
            .where(jobs_t.c.id == job.id)
            .values(status="in_progress", conclusion=None)
        )
    try:
        page.goto(f"{server.url}/repositories/collinbarrett/FilterLists{QUERY}")
        row = page.get_by_role("table", name="Recent runs").locator("tbody tr").first
        expect(row.get_by_role("cell").nth(5)).to_have_text("end not known")
        expect(row.get_by_role("cell").nth(7)).to_have_text("–")
        row.get_by_role("link", name="run ").click()
        page.wait_for_url(f"**/runs/{newest.run_id}?days=90*")
        result = page.get_by_role("region", name="Run").locator(".card").first
        expect(result).to_contain_text("end not known")
        expect(result).to_contain_text("GitHub last reported it in progress")
        assert page.get_by_role("form", name="Filters").count() == 0
        crumb = page.get_by_role("navigation", name="Breadcrumb").get_by_role("link").last
        assert str(crumb.get_attribute("href")).endswith("?days=90")  # still carried
        jobs = page.get_by_role("table", name="Jobs")
        unended = jobs.locator("tbody tr", has=page.get_by_role("link", name=job.name, exact=True))
        expect(unended.get_by_role("cell").nth(1)).to_have_text("end not known")
        unended.get_by_role("link", name=job.name, exact=True).click()
        page.wait_for_url(f"**/jobs/{job.id}?days=90*")
        expect(page.get_by_role("region", name="Job").locator(".card").first).to_contain_text(
            "end not known"
        )
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        with engine.begin() as conn:
            conn.execute(
                runs_t.update()
                .where(runs_t.c.id == newest.id)
                .values(status=newest.status, conclusion=newest.conclusion)
            )
            conn.execute(
                jobs_t.update()
                .where(jobs_t.c.id == job.id)
                .values(status=job.status, conclusion=job.conclusion)
            )
        engine.dispose()
