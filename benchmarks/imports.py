"""History import throughput: runs per second importing a real dataset, SQLite and PostgreSQL.

Imports ``travis-builds-2021`` (188,429 runs) into an empty, migrated
database through the same code path as ``controltower import``, timing the
import alone (not process start-up or migrations), then imports it again to
time the idempotent no-op pass.

    python -m benchmarks.imports [--dataset NAME] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from controltower.ingest.transfer import import_files
from controltower.store import schema
from controltower.store.engine import make_engine
from tests.support.paths import DATASETS


def measure(url: str, dataset: Path) -> dict[str, float | int | str]:
    """Import ``dataset`` twice into the database at ``url``; return rates."""
    engine = make_engine(url)
    schema.upgrade(engine)
    try:
        start = time.perf_counter()
        first = import_files(engine, [dataset])
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        second = import_files(engine, [dataset])
        second_s = time.perf_counter() - start
    finally:
        engine.dispose()
    return {
        "database": url.split(":", 1)[0],
        "records": first.records,
        "stored": first.stored,
        "seconds": round(first_s, 1),
        "runs_per_s": round(first.records / first_s),
        "reimport_unchanged": second.unchanged,
        "reimport_seconds": round(second_s, 1),
        "reimport_runs_per_s": round(second.records / second_s),
    }


def main() -> None:
    """Run on SQLite (a temporary file) and, if given, PostgreSQL (a fresh schema)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="travis-builds-2021.jsonl.gz")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    dataset = DATASETS / args.dataset
    results = []
    with tempfile.TemporaryDirectory() as work:
        results.append(measure(f"sqlite:///{Path(work) / 'ct.db'}", dataset))
    if args.postgres:
        admin = create_engine(args.postgres)
        with admin.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS ct_bench CASCADE"))
            conn.execute(text("CREATE SCHEMA ct_bench"))
        try:
            results.append(measure(f"{args.postgres}?options=-csearch_path%3Dct_bench", dataset))
        finally:
            with admin.begin() as conn:
                conn.execute(text("DROP SCHEMA ct_bench CASCADE"))
            admin.dispose()
    print("| database | runs | first import s | runs/s | re-import s | runs/s (no-op) |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['database']} | {r['records']} | {r['seconds']} | {r['runs_per_s']} "
            f"| {r['reimport_seconds']} | {r['reimport_runs_per_s']} |"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
