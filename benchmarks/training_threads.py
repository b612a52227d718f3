"""Training time on a small history by LightGBM thread count, alone and beside NumPy work.

Trains both models (``intelligence.training.train``) on the demo's bundled
sample (1,500 runs) on one thread and on two, the second by lifting
``models.PARALLEL_ROWS`` (below which training keeps to one thread), each
``--repeat`` times; then again while another process does NumPy matrix
products (as the anomaly detectors do, say in a command run beside the
worker): LightGBM's OpenMP threads and the BLAS library's both wait for work
by spinning, and then take turns with each other's; and once more with that
process's BLAS kept to one thread, as controltower's own processes keep it
(``controltower.threads``). Prints the median seconds per case.

    python -m benchmarks.training_threads [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import statistics
import time
from importlib.resources import files

import numpy as np
import orjson

from controltower.ingest.history import parse_record
from controltower.intelligence import models
from controltower.intelligence.records import HistoryRun, from_fact
from controltower.intelligence.training import train
from controltower.threads import limit_blas_threads


def _sample() -> list[HistoryRun]:
    blob = (files("controltower.data") / "demo-runs.jsonl.gz").read_bytes()
    lines = gzip.decompress(blob).splitlines()
    return [from_fact(parse_record(orjson.loads(line)).fact) for line in lines if line.strip()]


def _spin(stop: float, blas_threads: int | None) -> None:
    """Keep NumPy busy with matrix products, the anomaly detectors' shape fits among them."""
    if blas_threads is not None:
        limit_blas_threads(blas_threads)
    rng = np.random.default_rng(0)
    shapes, residual = rng.random((7500, 150)), rng.random(150)
    while time.monotonic() < stop:
        for _ in range(50):
            shapes @ residual
        np.median(rng.random((8, 1000)), axis=1)  # and other work between the products


def _seconds(history: list[HistoryRun], threads: int, repeat: int) -> float:
    saved = models.PARALLEL_ROWS
    models.PARALLEL_ROWS = 0 if threads > 1 else saved
    try:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            train(history, threads=threads)
            times.append(time.perf_counter() - start)
    finally:
        models.PARALLEL_ROWS = saved
    return statistics.median(times)


def main() -> None:
    """Print a markdown table of median training seconds."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    history = _sample()
    print(f"{len(history)} runs, median of {args.repeat}\n")
    print("| beside | 1 thread | 2 threads |")
    print("|---|---:|---:|")
    # beside: nothing, or a process doing NumPy work (its BLAS threads: the library's default,
    # or one)
    cases: list[tuple[str, bool, int | None]] = [
        ("nothing", False, None),
        ("NumPy matrix products", True, None),
        ("NumPy matrix products, BLAS on one thread", True, 1),
    ]
    for beside, busy, blas_threads in cases:
        spinner = None
        if busy:
            stop = time.monotonic() + 3600
            spinner = multiprocessing.Process(target=_spin, args=(stop, blas_threads))
            spinner.start()
        try:
            one = _seconds(history, 1, args.repeat)
            two = _seconds(history, 2, args.repeat)
        finally:
            if spinner is not None:
                spinner.terminate()
                spinner.join()
        print(f"| {beside} | {one:.2f} s | {two:.2f} s |")


if __name__ == "__main__":
    main()
