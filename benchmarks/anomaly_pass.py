"""How long one pass of the anomaly recorder takes over a real imported history.

The worker runs ``anomaly.recording.detect_and_record`` every
``anomaly.interval_minutes`` (15 by default): it reads every series from the
store, runs the detectors over each and records what is going on. This
imports one dataset of ``shared/datasets/runs`` into a fresh SQLite database
in a temporary folder (or uses ``--database-url``), then times ``--repeat``
whole passes, and, apart, the two parts of one: reading the series and
running the detectors over them.

    python -m benchmarks.anomaly_pass [--dataset NAME] [--database-url URL] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from controltower.anomaly.findings import findings
from controltower.anomaly.recording import detect_and_record
from controltower.anomaly.sources import load_series
from controltower.config import DEFAULT_RATES
from controltower.ingest.transfer import import_files
from controltower.store import schema
from controltower.store.engine import make_engine, reading
from controltower.telemetry.service import rate_table
from tests.support.paths import DATASETS


def main() -> None:
    """Import (unless a database is given), then time whole passes and their parts."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="travis-builds-2021")
    parser.add_argument("--database-url")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        if args.database_url is None:
            schema.upgrade(engine)
            import_files(engine, [DATASETS / f"{args.dataset}.jsonl.gz"])
        rate = rate_table(DEFAULT_RATES).rate
        passes = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = detect_and_record(engine, rate)
            passes.append(time.perf_counter() - start)
        start = time.perf_counter()
        with engine.connect() as conn:
            series = load_series(reading(conn), rate=rate)
        read = time.perf_counter() - start
        start = time.perf_counter()
        found = findings(series)
        judged = time.perf_counter() - start
        engine.dispose()
    points = sum(len(s.points) for s in series)
    print(f"{len(series)} series, {points} points ({args.dataset})")
    print(f"whole pass: median {statistics.median(passes):.1f} s of {args.repeat}")
    print(f"  reading the series: {read:.1f} s")
    print(f"  detectors over them: {judged:.1f} s ({len(found)} anomalies in all)")
    print(f"last pass recorded: {report}")


if __name__ == "__main__":
    main()
