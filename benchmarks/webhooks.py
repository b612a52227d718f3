"""Webhook ingest speed: deliveries acknowledged per second and answer latency, beside bare ASGI.

Runs ``controltower serve`` (embedded default: SQLite file in WAL mode with
synchronous=FULL, in-process worker normalizing as deliveries arrive) and a
bare ASGI endpoint under the same uvicorn, then drives both with wrk at
several concurrencies using a real ``workflow_job`` payload from the
fixtures, each request with a fresh delivery id. Afterwards it checks that
every acknowledged delivery is stored, and times how long the backlog takes
to normalize.

    python -m benchmarks.webhooks [--duration 10] [--concurrency 1 8 32 64]

Needs ``wrk`` (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from controltower.ingest.signature import signature_for
from controltower.store.engine import make_engine
from controltower.store.tables import Delivery
from tests.support.paths import EXAMPLES
from tests.support.server import cli_env, free_port, start, start_server

SECRET = "benchmark-secret"
PAYLOAD = EXAMPLES / "workflow_job" / "completed.failure.with-organization.payload.json"
LUA = Path(__file__).with_name("webhook.lua")
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"cannot read latency {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def run_wrk(url: str, concurrency: int, duration: int, prefix: str, body: Path) -> dict[str, Any]:
    """One wrk run; returns requests/s, p50/p99 latency (ms), and non-2xx/errors."""
    env = {
        **os.environ,
        "CT_BODY": str(body),
        "CT_EVENT": "workflow_job",
        "CT_SIGNATURE": signature_for(SECRET, body.read_bytes()),
        "CT_PREFIX": prefix,
    }
    threads = min(2, concurrency)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(LUA),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Latency Distribution" not in out:
        raise RuntimeError(f"wrk gave no latency distribution:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    dist = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.MULTILINE))
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "concurrency": concurrency,
        "requests_per_s": rps,
        "p50_ms": _ms(dist["50"]),
        "p99_ms": _ms(dist["99"]),
        "requests": total,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def main() -> None:
    """Run the benchmark and print a Markdown table and a JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument(
        "--split",
        action="store_true",
        help="serve --no-worker plus one `controltower worker` process, instead of one process",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="ct-bench-"))
    body = work / "payload.json"
    body.write_bytes(PAYLOAD.read_bytes())
    db = work / "ct.db"
    env = cli_env(
        data_dir=str(work / "data"),
        database_url=f"sqlite:///{db}",
        github__webhook_secret=SECRET,
        log_level="warning",
    )
    worker = None
    if args.split:
        server = start_server(env, work / "server.log", "--no-worker")
        worker = start(["worker", "--workers", "1"], env, work / "worker.log")
    else:
        server = start_server(env, work / "server.log")
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "benchmarks.bare_asgi", str(bare_port)])
    bare_url = f"http://127.0.0.1:{bare_port}/"
    for _ in range(100):
        try:
            httpx.post(bare_url, content=b"{}")
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    rows = []
    try:
        for concurrency in args.concurrency:
            ours = run_wrk(
                f"{server.url}/webhooks/github", concurrency, args.duration, f"c{concurrency}", body
            )
            reference = run_wrk(bare_url, concurrency, args.duration, f"b{concurrency}", body)
            rows.append({"controltower": ours, "bare_asgi": reference})
        acknowledged = sum(
            r["controltower"]["requests"] - r["controltower"]["non_2xx"] for r in rows
        )
        engine = make_engine(f"sqlite:///{db}")
        drain_start = time.monotonic()
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Delivery)).scalar_one()
        while True:
            with engine.connect() as conn:
                pending = conn.execute(
                    select(func.count()).select_from(Delivery).where(Delivery.state == "pending")
                ).scalar_one()
            if pending == 0:
                break
            time.sleep(0.5)
        drain_s = time.monotonic() - drain_start
        engine.dispose()
    finally:
        server.stop()
        if worker is not None:
            worker.stop()
        bare.terminate()
        bare.wait()
    print(
        "| concurrency | controltower deliveries/s | p50 ms | p99 ms | bare ASGI req/s "
        "| p50 ms | p99 ms | throughput ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        ours, ref = row["controltower"], row["bare_asgi"]
        print(
            f"| {ours['concurrency']} | {ours['requests_per_s']:.0f} | {ours['p50_ms']:.1f} "
            f"| {ours['p99_ms']:.1f} | {ref['requests_per_s']:.0f} | {ref['p50_ms']:.1f} "
            f"| {ref['p99_ms']:.1f} | {ours['requests_per_s'] / ref['requests_per_s']:.2f} |"
        )
    print(
        f"\nacknowledged {acknowledged}, stored {stored} (wrk counts requests cut off at the "
        f"end of a run as sent), backlog normalized {drain_s:.1f} s after the last run"
    )
    print(
        json.dumps(
            {
                "rows": rows,
                "acknowledged": acknowledged,
                "stored": stored,
                "drain_s": drain_s,
                "cpus": os.cpu_count(),
            },
            indent=1,
        ),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
