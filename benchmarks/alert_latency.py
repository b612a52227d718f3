"""Alert latency: from a failing run's webhook delivery to a receiver getting the notification.

Runs ``controltower serve`` (embedded default: SQLite, in-process worker) on
a database holding a real imported history (by default
``gha-microservices-5repos``, 6,826 runs), with a Slack incoming-webhook
receiver and a PagerDuty Events v2 receiver on 127.0.0.1. Each trial posts a
signed ``workflow_run`` delivery of a failed run on the default branch, waits
for the Slack message and the PagerDuty trigger, then posts a pass of the
same workflow and waits for the resolve notifications. Reported per
notification: the client-side time from sending the delivery to the
receiver getting the request, and the server's own figure (``latency_s`` in
the notification log: the delivery's ``received_at`` to the receiver's
answer); and the cost of each alert evaluation, read from the server's log.
Deliveries are ``--pause`` seconds apart (after the previous notifications
arrived), so the worker's idle polling is part of what is measured.

    python -m benchmarks.alert_latency [--trials 20] [--pause 2] [--dataset FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from controltower.telemetry.metrics import percentile
from tests.support.deliveries import run_outcome_payload, signed
from tests.support.paths import DATASETS
from tests.support.receivers import PagerDutyReceiver, Receiver, SlackReceiver
from tests.support.server import Process, cli_env, run_cli, start_server

SECRET = "benchmark-secret"
DATASET = DATASETS / "gha-microservices-5repos.jsonl.gz"


def _wait(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("no notification within the time allowed")
        time.sleep(0.005)


def _post(server: Process, run_id: int, conclusion: str, created_at: datetime) -> float:
    body, headers = signed(
        "workflow_run", run_outcome_payload(run_id, conclusion, created_at), SECRET
    )
    sent = time.monotonic()
    response = httpx.post(f"{server.url}/webhooks/github", content=body, headers=headers)
    response.raise_for_status()
    return sent


def _trial(
    server: Process, receivers: list[Receiver], run_id: int, conclusion: str, at: datetime
) -> list[float]:
    """Post one delivery; the seconds until each receiver got its next request."""
    before = [len(r.accepted) for r in receivers]
    sent = _post(server, run_id, conclusion, at)
    for receiver, count in zip(receivers, before, strict=True):
        _wait(lambda r=receiver, c=count: len(r.accepted) > c)  # type: ignore[misc]
    return [r.arrivals[-1] - sent for r in receivers]


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_s": percentile(ordered, 50, ordered=True) or 0.0,
        "p95_s": percentile(ordered, 95, ordered=True) or 0.0,
        "max_s": ordered[-1],
    }


def run(trials: int, dataset: Path, work: Path, pause_s: float) -> dict[str, Any]:
    """Import, serve, run the trials; the figures."""
    pagerduty, slack = PagerDutyReceiver(), SlackReceiver()
    env = cli_env(
        data_dir=str(work / "data"),
        github__webhook_secret=SECRET,
        alerts__channels=json.dumps({"pagerduty": [pagerduty.url()], "slack": [slack.url()]}),
        alerts__rules=json.dumps(
            [{"name": "failing", "kinds": ["failing-branch"], "severity": "critical"}]
        ),
    )
    for args in (["db", "upgrade"], ["import", str(dataset)]):
        done = run_cli(*args, env=env)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
    server = start_server(env, work / "server.log")
    firing: list[float] = []
    resolved: list[float] = []
    start = datetime.now(UTC) - timedelta(hours=1)
    try:
        for i in range(trials):
            at = start + timedelta(minutes=2 * i)
            time.sleep(pause_s)
            firing += _trial(server, [slack, pagerduty], 500_000 + 2 * i, "failure", at)
            at += timedelta(minutes=1)
            time.sleep(pause_s)
            resolved += _trial(server, [slack, pagerduty], 500_001 + 2 * i, "success", at)
        time.sleep(1.0)
        logged = httpx.get(
            f"{server.url}/api/v1/alerts/notifications", params={"limit": 4 * trials}
        ).json()
    finally:
        server.stop()
        pagerduty.close()
        slack.close()
    if pagerduty.invalid or slack.invalid:
        raise RuntimeError(f"malformed requests: {pagerduty.invalid + slack.invalid}")
    log = (work / "server.log").read_text()
    costs = [float(m) for m in re.findall(r"alerts_evaluated\s.*?duration_ms=([\d.]+)", log)]
    server_side = [r["latency_s"] for r in logged["recent"] if r["latency_s"] is not None]
    return {
        "trials": trials,
        "client_firing": _stats(firing),
        "client_resolved": _stats(resolved),
        "server_logged": _stats(server_side),
        "server_p50_p95": (logged["latency_p50_s"], logged["latency_p95_s"]),
        "evaluations": len(costs),
        "evaluation_ms_median": statistics.median(costs) if costs else None,
        "evaluation_ms_max": max(costs) if costs else None,
        "runs_imported_from": dataset.name,
        "pause_s": pause_s,
    }


def main() -> None:
    """Run the benchmark; print a Markdown table and the JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--pause", type=float, default=2.0)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ct-alert-bench-"))
    result = run(args.trials, args.dataset, work, args.pause)
    print("| notifications | n | p50 s | p95 s | max s |")
    print("|---|---|---|---|---|")
    for name in ("client_firing", "client_resolved", "server_logged"):
        s = result[name]
        print(f"| {name} | {s['n']} | {s['p50_s']:.2f} | {s['p95_s']:.2f} | {s['max_s']:.2f} |")
    print(
        f"\n{result['evaluations']} evaluations, median {result['evaluation_ms_median']} ms, "
        f"max {result['evaluation_ms_max']} ms (history: {result['runs_imported_from']})"
    )
    print(json.dumps(result, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
