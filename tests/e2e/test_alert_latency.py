"""A webhook delivery of a failing run leads to notifications through a real ``serve`` process.

The server gets signed ``workflow_run`` deliveries over HTTP; PagerDuty and
Slack are the receivers of ``tests/support/receivers.py``. The bound on time
is generous (CI machines vary); the figure itself is measured by
``benchmarks/alert_latency.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET
from tests.support.deliveries import run_outcome_payload, signed
from tests.support.receivers import PagerDutyReceiver, SlackReceiver
from tests.support.server import Process, cli_env, start_server, wait_until

BOUND_S = 30.0


@pytest.fixture
def receivers() -> Iterator[tuple[PagerDutyReceiver, SlackReceiver]]:
    """A PagerDuty Events v2 and a Slack webhook receiver."""
    pagerduty, slack = PagerDutyReceiver(), SlackReceiver()
    yield pagerduty, slack
    pagerduty.close()
    slack.close()


@pytest.fixture
def server(tmp_path: Path, receivers: tuple[PagerDutyReceiver, SlackReceiver]) -> Iterator[Process]:
    """``controltower serve`` alerting critical failing branches to both receivers."""
    pagerduty, slack = receivers
    env = cli_env(
        data_dir=str(tmp_path / "data"),
        github__webhook_secret=SECRET,
        alerts__channels=json.dumps({"pagerduty": [pagerduty.url()], "slack": [slack.url()]}),
        alerts__rules=json.dumps(
            [{"name": "failing", "kinds": ["failing-branch"], "severity": "critical"}]
        ),
        alerts__min_interval_s="0",
    )
    process = start_server(env, tmp_path / "server.log")
    yield process
    process.stop()


def _post_run(server: Process, run_id: int, conclusion: str, created_at: datetime) -> float:
    body, headers = signed(
        "workflow_run", run_outcome_payload(run_id, conclusion, created_at), SECRET
    )
    response = httpx.post(f"{server.url}/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202
    return time.monotonic()


def test_a_failing_run_pages_and_posts_then_its_fix_resolves_the_same_incident(
    server: Process, receivers: tuple[PagerDutyReceiver, SlackReceiver]
) -> None:
    """Failure on master: trigger and Slack message soon; a pass: resolve, same dedup_key."""
    pagerduty, slack = receivers
    start = datetime.now(UTC) - timedelta(minutes=10)
    posted = _post_run(server, 9001, "failure", start)
    wait_until(lambda: len(slack.accepted) == 1 and len(pagerduty.accepted) == 1, BOUND_S, 0.02)
    assert slack.arrivals[0] - posted < BOUND_S
    assert slack.texts()[0].startswith("CRITICAL: ")
    assert " · CI is failing on master" in slack.texts()[0]  # led by the repository
    _post_run(server, 9002, "success", start + timedelta(minutes=1))
    wait_until(lambda: len(pagerduty.accepted) == 2 and len(slack.accepted) == 2, BOUND_S, 0.02)
    trigger, resolve = pagerduty.accepted
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"]
    assert slack.texts()[1].startswith("RESOLVED: failing workflow in ")
    assert "cleared (was: CI is failing on master)" in slack.texts()[1]
    assert pagerduty.invalid == slack.invalid == []


def test_latency_is_measured_and_shown_in_the_api_metrics_and_overview(
    server: Process, receivers: tuple[PagerDutyReceiver, SlackReceiver]
) -> None:
    """The notification log, /metrics and the overview card carry the latency of what was sent."""
    _pagerduty, slack = receivers
    _post_run(server, 9101, "failure", datetime.now(UTC) - timedelta(minutes=5))
    wait_until(lambda: len(slack.accepted) == 1, BOUND_S, 0.02)

    def logged() -> dict[str, object]:
        document: dict[str, object] = httpx.get(f"{server.url}/api/v1/alerts/notifications").json()
        return document

    wait_until(lambda: logged()["sent"] == 2, 10)
    document = logged()
    rows = document["recent"]
    assert isinstance(rows, list)
    assert {(r["channel"], r["event"], r["fact_source"]) for r in rows} == {
        ("pagerduty", "firing", "delivery"),
        ("slack", "firing", "delivery"),
    }
    assert all(0 < r["latency_s"] < BOUND_S for r in rows)
    assert document["latency_p50_s"] is not None
    assert 0 < float(str(document["latency_p95_s"])) < BOUND_S
    metrics = httpx.get(f"{server.url}/metrics/").text
    assert 'controltower_alert_latency_seconds_count{channel="slack"} 1.0' in metrics
    overview = httpx.get(f"{server.url}/").text
    assert "Alert latency p50 / p95" in overview
    assert "2 notifications sent in 24 h" in overview
