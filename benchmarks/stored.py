"""One prediction for a stored run, on SQLite, by repository size (``prediction --stored-sizes``).

See ``benchmarks.prediction`` for how the repository is made and what is timed.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import tempfile
import time
from itertools import groupby
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from controltower.intelligence import registry
from controltower.intelligence.evaluation import evaluate
from controltower.intelligence.records import HistoryRun, request_order
from controltower.intelligence.serving import (
    FEATURE_STATE,
    feature_row,
    live_models,
    predict_row,
    replayed_row,
)
from controltower.intelligence.source import run_pk_of
from controltower.intelligence.training import train
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.writer import FactWriter
from tests.support.predictions import fact_of

REPOSITORY = "bench/large"
BATCH = 5_000
REPLAYS = 5


def _copy(run: HistoryRun, k: int, shift: float) -> HistoryRun:
    def moved(t: float | None) -> float | None:
        return None if t is None else t + shift

    return dataclasses.replace(
        run,
        run_id=f"{k}-{run.run_id}",
        created=moved(run.created),
        started=moved(run.started),
        completed=moved(run.completed),
    )


def one_repository(runs: list[HistoryRun], size: int) -> list[HistoryRun]:
    """The first ``size`` runs of every dated project taken as one repository, continued in time
    by copies of it (copy ``k`` moved ``k`` times its span later, run ids prefixed ``k-``)."""
    dated: list[HistoryRun] = []
    for name, group in groupby(request_order(runs), key=lambda r: r.repository):
        project = list(group)
        if all(r.created is not None for r in project):
            dated.extend(
                dataclasses.replace(r, repository=REPOSITORY, workflow=name) for r in project
            )
    created = [r.created for r in dated if r.created is not None]
    span = max(created) - min(created) + 86_400.0
    copies = -(-size // len(dated))
    history = [_copy(r, k, k * span) for k in range(copies) for r in dated]
    return request_order(history)[:size]


def _store(engine: Engine, runs: list[HistoryRun], snapshot: str = "1") -> None:
    with engine.begin() as conn:
        writer = FactWriter(conn)
        for i in range(0, len(runs), BATCH):
            facts = [fact_of(r) for r in runs[i : i + BATCH]]
            writer.upsert_runs([dataclasses.replace(f, snapshot=snapshot) for f in facts])


def _pk(engine: Engine, run: HistoryRun) -> int:
    with engine.connect() as conn:
        pk = run_pk_of(conn, run.repository, run.run_id, run.attempt)
    assert pk is not None
    return pk


def _timed(engine: Engine, pk: int) -> tuple[float, float]:
    """Milliseconds to the feature row (database read included), and to the whole prediction."""
    start = time.perf_counter()
    with engine.begin() as conn:
        row = feature_row(conn, pk)
        features = time.perf_counter()
        assert row is not None
        predict_row(live_models(conn), row)
    end = time.perf_counter()
    return (features - start) * 1000, (end - start) * 1000


def _replay_ms(engine: Engine, pk: int) -> float:
    start = time.perf_counter()
    with engine.begin() as conn:
        replayed_row(conn, pk)
    return (time.perf_counter() - start) * 1000


def time_stored(runs: list[HistoryRun], small: list[HistoryRun], size: int, count: int) -> Any:
    """Timings of ``count`` stored-run predictions in a repository of ``size`` runs."""
    history = one_repository(runs, size)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        schema.upgrade(engine)
        with engine.begin() as conn:
            trained = train(small, threads=2)
            registry.promote(conn, registry.register(conn, trained, evaluate(small)).version)
        _store(engine, history[:-count])
        FEATURE_STATE.clear()
        timings: list[tuple[float, float]] = []
        for run in history[-count:]:
            queued = dataclasses.replace(
                run, status="queued", conclusion=None, completed=None, duration_s=None
            )
            _store(engine, [queued])
            timings.append(_timed(engine, _pk(engine, run)))
            _store(engine, [run], snapshot="2")
        replays = [_replay_ms(engine, _pk(engine, r)) for r in history[-REPLAYS:]]
        engine.dispose()
    features = statistics.quantiles([t[0] for t in timings[1:]], n=100)
    whole = statistics.quantiles([t[1] for t in timings[1:]], n=100)
    return {
        "repository_runs": len(history),
        "predictions": len(timings) - 1,
        "first_prediction_ms": round(timings[0][1], 1),
        "features_p50_ms": round(features[49], 3),
        "features_p95_ms": round(features[94], 3),
        "prediction_p50_ms": round(whole[49], 3),
        "prediction_p95_ms": round(whole[94], 3),
        "full_replay_median_ms": round(statistics.median(replays), 1),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
