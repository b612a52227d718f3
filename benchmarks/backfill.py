"""Backfill throughput against the fake GitHub API with realistic latency, and requests per run.

Serves a generated history (every fifth run re-run once, three jobs per
attempt) from the fake REST server of the tests on loopback, each response
delayed by a uniform 50-150 ms as GitHub's API answers from far away, and
backfills it into an empty SQLite database through the same code path as
``controltower backfill``, at each concurrency given. Reports runs per second
and API requests per 1,000 runs (counted by the server).

    python -m benchmarks.backfill [--runs N] [--concurrency 4 8 16]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controltower.ingest.backfill import backfill
from controltower.store import schema
from controltower.store.engine import make_engine
from tests.support.github_history import generate
from tests.support.github_server import FakeGitHub, serve, settings_for

REPO = "octo-org/octo-repo"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def measure(runs: int, concurrency: int, latency: tuple[float, float]) -> dict[str, float | int]:
    """Backfill ``runs`` runs at ``concurrency``; return the rates."""
    history = generate(REPO, runs=runs, spacing=timedelta(minutes=3))
    fake = FakeGitHub([history], latency_s=latency)
    with tempfile.TemporaryDirectory() as work, serve(fake) as api:
        engine = make_engine(f"sqlite:///{Path(work) / 'ct.db'}")
        schema.upgrade(engine)
        settings = settings_for(api, concurrency=concurrency)
        report = backfill(
            engine, settings, repositories=[REPO], since=SINCE, until=SINCE + timedelta(days=30)
        )
        engine.dispose()
    requests = len(fake.api_requests())
    return {
        "runs": report.runs,
        "attempts": report.attempts,
        "jobs": report.jobs,
        "concurrency": concurrency,
        "seconds": round(report.seconds, 1),
        "runs_per_s": round(report.runs / report.seconds, 1),
        "requests": requests,
        "requests_per_1000_runs": round(requests * 1000 / report.runs),
    }


def main() -> None:
    """Measure at each concurrency and print a Markdown table and the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--latency-ms", type=float, nargs=2, default=[50.0, 150.0])
    args = parser.parse_args()
    latency = (args.latency_ms[0] / 1000, args.latency_ms[1] / 1000)
    results = [measure(args.runs, c, latency) for c in args.concurrency]
    print("| concurrency | runs | attempts | jobs | seconds | runs/s | requests | per 1,000 runs |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['concurrency']} | {r['runs']} | {r['attempts']} | {r['jobs']} | {r['seconds']} "
            f"| {r['runs_per_s']} | {r['requests']} | {r['requests_per_1000_runs']} |"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
