"""Alerts from active problems, delivered to real HTTP receivers on 127.0.0.1.

The receivers speak Slack's incoming-webhook format (a JSON body with
``text``): one accepts, one fails with 500 twice before accepting, one hangs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from controltower.config import AlertRule, Settings
from controltower.integrations.channels import warm_apprise
from controltower.integrations.notify import Notifier
from controltower.store.tables import Alert, Delivery, table_of
from controltower.telemetry import activity
from controltower.telemetry.alerts import alert_key, evaluate, evaluate_store, matching_rule
from tests.support.waiting import store_pending, wait_until

deliveries_t = table_of(Delivery)
alerts_t = table_of(Alert)
SLACK_FORMAT = ":message=text&:title=&:version=&:attachments=&:type="


class Receiver:
    """An HTTP server on 127.0.0.1 that records JSON bodies and answers as ``respond`` says."""

    def __init__(self, respond: Callable[[int], int], delay_s: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                receiver.attempts += 1
                status = respond(receiver.attempts)
                time.sleep(delay_s)
                if status == 200:
                    receiver.bodies.append(body)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"error")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, timeout_s: float = 5.0) -> str:
        """The apprise URL that posts Slack's incoming-webhook JSON here."""
        port = self.server.server_address[1]
        return f"json://127.0.0.1:{port}/services/hook?{SLACK_FORMAT}&rto={timeout_s}&cto=1"

    def texts(self) -> list[str]:
        return [b["text"] for b in self.bodies]


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    """An accepting, a flaky (500, 500, then 200) and a hanging receiver."""
    warm_apprise()  # its plugins load once per process, slowly: not inside the timed part
    made = {
        "slack": Receiver(lambda _: 200),
        "flaky": Receiver(lambda n: 500 if n <= 2 else 200),
        "hang": Receiver(lambda _: 200, delay_s=10.0),
    }
    yield made
    for receiver in made.values():
        receiver.server.shutdown()


def test_alerts_fire_once_reach_every_receiver_and_resolve(
    sqlite_engine: Engine, tmp_path: Path, receivers: dict[str, Receiver]
) -> None:
    """A critical backlog pages and posts once; a failing receiver gets it on retry; a hanging
    one delays nobody; the alert is not repeated while it lasts and resolves when it clears."""
    settings = Settings(
        data_dir=tmp_path,
        queue_url="memory://",
        telemetry={"problems": {"backlog_warning": 2, "backlog_critical": 3}},
        alerts={
            "channels": {
                "slack": [receivers["slack"].url(), receivers["hang"].url(timeout_s=0.5)],
                "pagerduty": [receivers["flaky"].url()],
            },
            "backoff_base_s": 0.1,
            "retries": 3,
        },
    )
    notifier = Notifier(settings.alerts)
    try:
        store_pending(sqlite_engine, 3)
        notifications = evaluate_store(sqlite_engine, settings)
        assert [(n.event, n.severity, n.key) for n in notifications] == [
            ("firing", "critical", "ingest-backlog")
        ]
        started = time.monotonic()
        notifier.deliver(notifications[0])
        assert time.monotonic() - started < 0.5  # never blocks the caller
        assert wait_until(lambda: len(receivers["slack"].bodies) == 1, 2.0)
        assert time.monotonic() - started < 2.0  # the hanging receiver delayed nothing
        assert set(receivers["slack"].bodies[0]) == {"text"}  # Slack's incoming-webhook body
        assert receivers["slack"].texts()[0].startswith("CRITICAL: 3 deliveries waiting")
        assert wait_until(lambda: len(receivers["flaky"].bodies) == 1)
        assert receivers["flaky"].attempts == 3
        assert wait_until(lambda: receivers["hang"].attempts >= 2)  # timed out, then retried

        again = evaluate_store(sqlite_engine, settings)
        assert again == []  # the same condition: no second notification
        with sqlite_engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(alerts_t)).scalar_one() == 1

        with sqlite_engine.begin() as conn:
            conn.execute(update(deliveries_t).values(state="processed"))
        resolved = evaluate_store(sqlite_engine, settings)
        assert [(n.event, n.key) for n in resolved] == [("resolved", "ingest-backlog")]
        notifier.deliver(resolved[0])
        assert wait_until(lambda: len(receivers["slack"].bodies) == 2)
        assert (
            receivers["slack"]
            .texts()[1]
            .startswith("RESOLVED: delivery backlog cleared (was: 3 deliveries waiting")
        )
        with sqlite_engine.connect() as conn:
            row = conn.execute(select(alerts_t)).one()
        assert row.resolved_at is not None
        assert evaluate_store(sqlite_engine, settings) == []
    finally:
        notifier.close()


def test_warnings_route_to_slack_only_and_info_nowhere(tmp_path: Path) -> None:
    """The default routes: critical to PagerDuty and Slack, warning to Slack, info to none."""
    settings = Settings(
        data_dir=tmp_path,
        alerts={"channels": {"slack": ["json://s"], "pagerduty": ["json://p"]}},
    )
    assert settings.alerts.urls("critical") == ["json://p", "json://s"]
    assert settings.alerts.urls("warning") == ["json://s"]
    assert settings.alerts.urls("info") == []


def test_rules_match_kind_patterns_and_least_severity() -> None:
    """The first rule whose kinds and severity match decides; the key ignores changing counts."""
    rules = [
        AlertRule(name="anomalies", kinds=["anomaly"], min_severity="warning"),
        AlertRule(name="ingest", kinds=["ingest-*"], severity="critical"),
    ]
    since = datetime.now(UTC) - timedelta(hours=1)
    spike = activity.Problem("anomaly", "info", "spike in duration of a", "x", since, "org/a")
    backlog = activity.Problem("ingest-backlog", "warning", "7 deliveries waiting", "y")
    failing = activity.Problem("failing-branch", "warning", "ci is failing on main", "z")
    assert matching_rule(spike, rules) is None
    rule = matching_rule(backlog, rules)
    assert rule is not None
    assert rule.name == "ingest"
    assert matching_rule(failing, rules) is None
    assert alert_key(backlog) == alert_key(
        activity.Problem("ingest-backlog", "critical", "9 deliveries waiting", "y")
    )


def test_an_alert_whose_problem_dips_under_its_rules_severity_stays_open(engine: Engine) -> None:
    """A rule at warning or above: an anomaly graded warning fires; graded info on the next
    evaluation (its size wavering at the band), its alert stays open, still a warning, its
    detail the problem's now, and nothing is sent; warning again, nothing is sent either.
    Gone, it resolves once. A problem the rule never matched opens nothing."""
    rules = [AlertRule(name="anomalies", kinds=["anomaly"], min_severity="warning")]
    since = datetime(2026, 3, 1, tzinfo=UTC)

    def slowdown(severity: str, detail: str = "+40 s") -> activity.Problem:
        return activity.Problem(
            "anomaly", severity, "level shift in duration of org/a · CI", detail, since, "org/a"
        )

    def run(found: list[activity.Problem], hour: int) -> list[tuple[str, str]]:
        with engine.begin() as conn:
            sent = evaluate(conn, found, rules, since + timedelta(hours=hour))
        return [(n.event, n.severity) for n in sent]

    def open_alerts() -> list[tuple[str, str]]:
        with engine.connect() as conn:
            query = select(alerts_t.c.severity, alerts_t.c.detail)
            return [
                (r.severity, r.detail)
                for r in conn.execute(query.where(alerts_t.c.resolved_at.is_(None)))
            ]

    assert run([slowdown("warning")], 1) == [("firing", "warning")]
    assert run([slowdown("info", "+20 s")], 2) == []
    assert open_alerts() == [("warning", "+20 s")]
    assert run([slowdown("warning")], 3) == []
    assert run([], 4) == [("resolved", "warning")]
    assert open_alerts() == []
    assert run([slowdown("info")], 5) == []
    assert open_alerts() == []


def test_an_alert_that_dips_under_its_rule_is_not_taken_over_by_a_rule_for_lesser_ones(
    engine: Engine,
) -> None:
    """Rules for warnings (to Slack) and for the rest: an anomaly graded warning fires under
    the first; graded info, it stays open under that rule at warning (not lowered to info by
    the second), and grown back to warning it is not sent again. An anomaly that was info
    from the start opens an info alert under the second."""
    rules = [
        AlertRule(name="page", kinds=["anomaly"], min_severity="warning"),
        AlertRule(name="board", kinds=["anomaly"], min_severity="info"),
    ]
    since = datetime(2026, 3, 1, tzinfo=UTC)

    def anomaly(severity: str, what: str = "duration") -> activity.Problem:
        title = f"level shift in {what} of org/a · CI"
        return activity.Problem("anomaly", severity, title, severity, since, "org/a")

    def run(found: list[activity.Problem], hour: int) -> list[tuple[str, str]]:
        with engine.begin() as conn:
            sent = evaluate(conn, found, rules, since + timedelta(hours=hour))
        return [(n.event, n.severity) for n in sent]

    def open_alerts() -> list[tuple[str, str, str]]:
        with engine.connect() as conn:
            query = select(alerts_t.c.rule, alerts_t.c.severity, alerts_t.c.title)
            query = query.where(alerts_t.c.resolved_at.is_(None)).order_by(alerts_t.c.id)
            return [(r.rule, r.severity, r.title[15:]) for r in conn.execute(query)]

    assert run([anomaly("warning")], 1) == [("firing", "warning")]
    assert run([anomaly("info")], 2) == []
    assert open_alerts() == [("page", "warning", "duration of org/a · CI")]
    assert run([anomaly("warning")], 3) == []
    assert run([anomaly("warning"), anomaly("info", "queue")], 4) == [("firing", "info")]
    assert open_alerts() == [
        ("page", "warning", "duration of org/a · CI"),
        ("board", "info", "queue of org/a · CI"),
    ]
