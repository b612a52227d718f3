"""The kept feature state gives exactly the row a full replay of the stored history gives.

Real histories are delivered as they would be live: each run is stored
queued when requested and stored again when its outcome is known, some
deliveries arriving late and out of order. At every request the kept state's
row is compared with the full replay over the database at that moment.
"""

from __future__ import annotations

import dataclasses
import gzip
import random
from collections import defaultdict
from functools import cache
from typing import Any

import numpy as np
import orjson
import pytest
from sqlalchemy import Engine, delete

from controltower.ingest.history import parse_record
from controltower.intelligence.features import featurize
from controltower.intelligence.records import HistoryRun, from_fact, known_at, request_order
from controltower.intelligence.serving import replayed_row
from controltower.intelligence.source import repository_history, run_pk_of
from controltower.intelligence.state import FeatureState
from controltower.store.tables import WorkflowRun, table_of
from controltower.store.writer import FactWriter
from tests.support.histories import T0, synthetic_history
from tests.support.paths import DATASETS
from tests.support.predictions import fact_of
from tests.unit.intelligence.test_features import _alter_future

RUNS = 100
Event = tuple[float, int, HistoryRun]


@cache
def _dataset(name: str) -> tuple[tuple[HistoryRun, ...], ...]:
    """The first two repositories (by name) whose first runs are enough and all dated.

    Only those repositories' records are parsed: parsing all of Travis would
    take longer than every test of this module together.
    """
    by_repository: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with gzip.open(DATASETS / name, "rb") as handle:
        for line in handle:
            record = orjson.loads(line)
            by_repository[str(record["repository"])].append(record)
    chosen: list[tuple[HistoryRun, ...]] = []
    for repository in sorted(by_repository):
        runs = [from_fact(parse_record(r).fact) for r in by_repository[repository]]
        first = request_order(runs)[:RUNS]
        if len(first) >= 60 and all(r.created is not None for r in first):
            chosen.append(tuple(first))
        if len(chosen) == 2:
            break
    return tuple(chosen)


def _histories() -> dict[str, list[HistoryRun]]:
    out = {}
    for name in sorted(p.name for p in DATASETS.glob("*.jsonl.gz")):
        for i, runs in enumerate(_dataset(name)):
            out[f"{name.split('.')[0]}-{i}"] = list(runs)
    synthetic = request_order(synthetic_history(repositories=1, runs=RUNS, seed=3))
    out["synthetic"] = synthetic
    out["synthetic-future-shuffled"] = request_order(_alter_future(synthetic, T0 + 60 * 1800, 5))
    return out


HISTORIES = _histories()


def _arrivals(runs: list[HistoryRun], late: float, seed: int) -> list[Event]:
    """Deliveries in arrival order: queued at request, completed when known, some late."""
    rng = random.Random(seed)
    events: list[Event] = []
    for i, run in enumerate(runs):
        assert run.created is not None
        queued = dataclasses.replace(
            run, status="queued", conclusion=None, completed=None, duration_s=None
        )
        at = run.created + (rng.uniform(0, 3600) if rng.random() < late else 0.0)
        events.append((at, 2 * i, queued))
        done = known_at(run, run.created)
        if done != float("inf"):
            events.append(
                (
                    max(done, at) + (rng.uniform(0, 900) if rng.random() < late else 0.0),
                    2 * i + 1,
                    run,
                )
            )
    return sorted(events)


def _write(engine: Engine, run: HistoryRun, snapshot: str) -> int:
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([dataclasses.replace(fact_of(run), snapshot=snapshot)])
        pk = run_pk_of(conn, run.repository, run.run_id, run.attempt)
    assert pk is not None
    return pk


def _deliver(engine: Engine, events: list[Event], state: FeatureState) -> tuple[int, int]:
    """Deliver every event, comparing rows at each request; return (requests, served kept)."""
    requests = kept = 0
    for _, order, run in events:
        pk = _write(engine, run, snapshot=str(order % 2 + 1))
        if order % 2:
            continue
        with engine.connect() as conn:
            row = state.row(conn, run.repository, run.run_id, run.attempt)
            replayed = replayed_row(conn, pk)
        assert replayed is not None
        requests += 1
        if row is not None:
            kept += 1
            np.testing.assert_array_equal(np.asarray(row), replayed[0])
    return requests, kept


@pytest.mark.parametrize("name", list(HISTORIES))
def test_kept_state_rows_equal_the_full_replay_for_runs_delivered_in_order(
    sqlite_engine: Engine, name: str
) -> None:
    """Delivered on time, every run's row comes from the kept state and equals the replay."""
    state = FeatureState()
    requests, kept = _deliver(sqlite_engine, _arrivals(HISTORIES[name], 0.0, 1), state)
    assert requests == len(HISTORIES[name])
    assert kept == requests
    assert state.rebuilds == 1


@pytest.mark.parametrize("name", list(HISTORIES))
def test_kept_state_rows_equal_the_full_replay_when_deliveries_arrive_late(
    sqlite_engine: Engine, name: str
) -> None:
    """A fifth of deliveries up to an hour late: rows still equal the replay, mostly kept."""
    state = FeatureState()
    requests, kept = _deliver(sqlite_engine, _arrivals(HISTORIES[name], 0.2, 2), state)
    assert kept >= requests // 2
    assert state.rebuilds < requests // 4


@pytest.mark.parametrize("held_back", [False, True])
def test_deleted_runs_are_seen_when_the_state_is_rebuilt(engine: Engine, held_back: bool) -> None:
    """A deleted run still held back rebuilds at once; an old one once the state is too old."""
    runs = HISTORIES["synthetic"]
    state = FeatureState(max_age_s=0.0 if not held_back else 3600.0)
    _deliver(engine, _arrivals(runs[:60], 0.0, 1), state)
    queued = dataclasses.replace(runs[60], status="queued", conclusion=None, completed=None)
    _deliver(engine, [(0.0, 0, queued)], state)
    gone = _write(engine, queued if held_back else runs[0], "1")
    with engine.begin() as conn:
        conn.execute(delete(table_of(WorkflowRun)).where(table_of(WorkflowRun).c.id == gone))
    rebuilds = state.rebuilds
    requests, kept = _deliver(engine, _arrivals(runs[61:64], 0.0, 1), state)
    assert (requests, kept) == (3, 3)
    assert state.rebuilds > rebuilds


def test_a_hypothetical_run_gets_the_row_of_the_full_replay(sqlite_engine: Engine) -> None:
    """A run not stored, requested after the last one, gets the row featurizing gives it."""
    runs = HISTORIES["synthetic"][:80]
    state = FeatureState()
    _deliver(sqlite_engine, _arrivals(runs, 0.0, 1), state)
    assert runs[-1].created is not None
    target = dataclasses.replace(runs[-1], run_id="new", created=runs[-1].created + 60.0)
    with sqlite_engine.connect() as conn:
        row = state.hypothetical_row(conn, target)
        stored = repository_history(conn, target.repository)
    ordered = request_order([*stored, target])
    expected = featurize(ordered)[ordered.index(target)]
    assert row is not None
    np.testing.assert_array_equal(np.asarray(row), expected)


def test_a_repository_with_a_run_without_request_time_is_replayed_in_full(
    sqlite_engine: Engine,
) -> None:
    """No created_at orders the whole repository by number: the state keeps nothing."""
    runs = HISTORIES["synthetic"][:30]
    _deliver(sqlite_engine, _arrivals(runs, 0.0, 1), FeatureState())
    _write(sqlite_engine, dataclasses.replace(runs[0], run_id="x", created=None), "1")
    with sqlite_engine.connect() as conn:
        assert FeatureState().row(conn, runs[0].repository, runs[-1].run_id, 1) is None
