"""How long alert rules on metrics take to judge, per window, on a real imported history.

The history is one dataset of ``shared/datasets/runs`` imported into a fresh
database (SQLite in a temporary folder unless ``--database-url`` is given).
Each metric is judged for every workflow of every repository (globs ``*``)
over the last 24 h, 7 d, 30 d and 90 d before the newest stored run, as the
scheduled evaluation does at each pass; the time is the median of
``--repeat`` passes, with the runs the window holds.

    python -m benchmarks.metric_rules [--dataset NAME] [--database-url URL] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from controltower.config import DEFAULT_RATES, AlertRule
from controltower.ingest.transfer import import_files
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.tables import WorkflowRun, table_of
from controltower.telemetry.metric_rules import metric_problems
from controltower.telemetry.service import rate_table
from tests.support.paths import DATASETS

runs_t = table_of(WorkflowRun)
THRESHOLDS = {
    "failure_rate": 0.2,
    "duration_p50": 600.0,
    "duration_p95": 1800.0,
    "queue_p95": 300.0,
    "cost_per_day": 1.0,
}


def main() -> None:
    """Import the dataset, then time each metric over each window."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="travis-builds-2021.jsonl.gz")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        schema.upgrade(engine)
        started = time.perf_counter()
        report = import_files(engine, [DATASETS / args.dataset])
        took = time.perf_counter() - started
        print(f"{args.dataset}: {report.stored} runs imported in {took:.0f} s")
        rates = rate_table(DEFAULT_RATES)
        print("| window | runs in window | metric | problems | median ms |")
        print("|---|---|---|---|---|")
        with engine.connect() as conn:
            newest = conn.execute(select(func.max(runs_t.c.created_at))).scalar_one()
            now = newest + timedelta(seconds=1)
            for hours in (24, 24 * 7, 24 * 30, 24 * 90):
                count = conn.execute(
                    select(func.count()).where(runs_t.c.created_at >= now - timedelta(hours=hours))
                ).scalar_one()
                for metric, threshold in THRESHOLDS.items():
                    rule = AlertRule(
                        name=metric,
                        metric=metric,
                        window_hours=hours,
                        above=threshold,
                        min_runs=1,
                    )
                    times = []
                    for _ in range(args.repeat):
                        begun = time.perf_counter()
                        found = metric_problems(conn, [rule], rates, now)
                        times.append((time.perf_counter() - begun) * 1000)
                    print(
                        f"| {hours} h | {count} | {metric} | {len(found)} | "
                        f"{statistics.median(times):.1f} |"
                    )
        engine.dispose()


if __name__ == "__main__":
    main()
