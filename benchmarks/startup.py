"""Command-line start-up: wall time of light commands, as a user or a script runs them.

Each command runs ``--runs`` times as ``python -m controltower ...`` in a new
process (after one unmeasured run), against a migrated SQLite database in a
temporary directory; the median and the slowest are printed, with whether
the installed packages carry compiled bytecode (without it, every process
compiles each module it imports from source, which costs more than the
imports themselves).

    python -m benchmarks.startup [--runs 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (
    ("--help",),
    ("health", "--json"),
    ("alerts", "list", "--json"),
    ("capability", "list", "--json"),
    ("anomaly", "detect", "{series}", "--json"),
)


def _bytecode_compiled() -> bool:
    """Whether SQLAlchemy (a large dependency) has compiled bytecode next to its source."""
    spec = importlib.util.find_spec("sqlalchemy")
    assert spec is not None
    assert spec.origin is not None
    return Path(importlib.util.cache_from_source(spec.origin)).exists()


def _series(path: Path) -> Path:
    lines = ["timestamp,value"]
    lines += [f"2026-01-{1 + i // 24:02d}T{i % 24:02d}:00:00,{100 + (i % 7)}" for i in range(240)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _time(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "controltower", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - start


def main() -> None:
    """Time each command; print a markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLTOWER_")}
        env["CONTROLTOWER_DATA_DIR"] = tmp
        env["CONTROLTOWER_DATABASE_URL"] = f"sqlite:///{tmp}/ct.db"
        subprocess.run(
            [sys.executable, "-m", "controltower", "db", "upgrade"],
            env=env,
            capture_output=True,
            check=True,
        )
        series = str(_series(Path(tmp) / "series.csv"))
        print(f"bytecode compiled: {_bytecode_compiled()}; {args.runs} runs each\n")
        print("| command | median s | slowest s |")
        print("|---|---:|---:|")
        for command in COMMANDS:
            argv = [a.format(series=series) for a in command]
            _time(argv, env)
            times = [_time(argv, env) for _ in range(args.runs)]
            label = " ".join("FILE" if a == series else a for a in argv)
            print(f"| `controltower {label}` | {statistics.median(times):.2f} | {max(times):.2f} |")


if __name__ == "__main__":
    main()
