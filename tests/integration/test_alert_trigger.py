"""Event-driven alert evaluation: ingest of completed runs asks for it, bursts coalesce."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from controltower.bootstrap.alerting import EvaluationTrigger
from controltower.ingest import processing
from controltower.store.tables import Delivery, table_of
from tests.support.paths import EXAMPLES

deliveries_t = table_of(Delivery)
COMPLETED = json.loads((EXAMPLES / "workflow_run" / "completed.payload.json").read_text())
REQUESTED = json.loads((EXAMPLES / "workflow_run" / "requested.payload.json").read_text())


class FakeEvaluation:
    """Counts evaluations and remembers the newest delivery noted before each."""

    def __init__(
        self, duration_s: float = 0.0, fail: bool = False, gate: threading.Event | None = None
    ) -> None:
        self.duration_s = duration_s
        self.fail = fail
        self.gate = gate  # when given, an evaluation ends only once it is set
        self.noted: list[datetime] = []
        self.runs: list[float] = []
        self.ended = 0
        self.warmed = False
        self.closed = False
        self.lock = threading.Lock()

    def warm(self) -> None:
        self.warmed = True

    def close(self) -> None:
        self.closed = True

    def note_delivery(self, received_at: datetime) -> None:
        with self.lock:
            self.noted.append(received_at)

    def run(self) -> dict[str, int]:
        self.runs.append(time.monotonic())
        try:
            time.sleep(self.duration_s)
            if self.gate is not None and not self.gate.wait(timeout=10):
                raise RuntimeError("the gate was never opened")
            if self.fail:
                raise RuntimeError("the database went away")
            return {"firing": 0, "resolved": 0}
        finally:
            self.ended += 1


def _eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _store(engine: Engine, payloads: list[tuple[str, dict[str, Any]]]) -> list[datetime]:
    base = datetime.now(UTC) - timedelta(seconds=10)
    stamps = [base + timedelta(seconds=i) for i in range(len(payloads))]
    with engine.begin() as conn:
        conn.execute(
            insert(deliveries_t),
            [
                {
                    "guid": f"g{i}",
                    "event": "workflow_run",
                    "action": payload["action"],
                    "content_type": "application/json",
                    "body": json.dumps(payload).encode(),
                    "received_at": stamp,
                }
                for i, ((_, payload), stamp) in enumerate(zip(payloads, stamps, strict=True))
            ],
        )
    return stamps


def _run(payload: dict[str, Any], run_id: int) -> dict[str, Any]:
    copied: dict[str, Any] = copy.deepcopy(payload)
    copied["workflow_run"]["id"] = run_id
    return copied


def test_processing_hears_of_completed_runs_with_the_newest_delivery_time(engine: Engine) -> None:
    """Two completed runs and a requested one: the hook hears once, of the newest completed."""
    stamps = _store(
        engine,
        [("c", _run(COMPLETED, 1)), ("c", _run(COMPLETED, 2)), ("r", _run(REQUESTED, 3))],
    )
    heard: list[datetime] = []
    processing.process_all_pending(engine, on_completed_runs=heard.append)
    assert heard == [stamps[1]]


def test_processing_of_requested_runs_only_asks_for_no_evaluation(engine: Engine) -> None:
    """A run not yet completed changes no alert: the hook stays quiet."""
    _store(engine, [("r", _run(REQUESTED, 3))])
    heard: list[datetime] = []
    processing.process_all_pending(engine, on_completed_runs=heard.append)
    assert heard == []


def test_a_burst_of_requests_makes_one_or_two_evaluations() -> None:
    """Fifty requests within the settle time coalesce; every delivery time is noted."""
    evaluation = FakeEvaluation(duration_s=0.05)
    trigger = EvaluationTrigger(evaluation, settle_s=0.5, min_interval_s=0.0)
    try:
        for i in range(50):
            trigger.request(datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=i))
            time.sleep(0.002)
        time.sleep(1.2)
    finally:
        trigger.close()
    assert 1 <= len(evaluation.runs) <= 2
    assert len(evaluation.noted) == 50


def test_evaluations_are_kept_at_least_the_minimum_interval_apart() -> None:
    """Requests spread over a second, min_interval 0.5 s: evaluations are 0.5 s apart or more."""
    evaluation = FakeEvaluation()
    trigger = EvaluationTrigger(evaluation, settle_s=0.0, min_interval_s=0.5)
    try:
        for _ in range(20):
            trigger.request(datetime.now(UTC))
            time.sleep(0.05)
        time.sleep(0.7)
    finally:
        trigger.close()
    gaps = [b - a for a, b in zip(evaluation.runs, evaluation.runs[1:], strict=False)]
    assert 2 <= len(evaluation.runs) <= 4
    assert all(gap >= 0.49 for gap in gaps)


def test_a_failing_evaluation_neither_raises_to_ingest_nor_stops_later_ones() -> None:
    """request() returns while the evaluation it asked for is still held (it never waits for
    one); after that evaluation fails, the next request still evaluates."""
    gate = threading.Event()
    evaluation = FakeEvaluation(fail=True, gate=gate)
    trigger = EvaluationTrigger(evaluation, settle_s=0.0, min_interval_s=0.0)
    try:
        trigger.request(datetime.now(UTC))
        assert _eventually(lambda: len(evaluation.runs) == 1)
        assert evaluation.ended == 0  # the caller went on while the evaluation is held
        gate.set()
        assert _eventually(lambda: evaluation.ended == 1)
        time.sleep(0.05)
        trigger.request(datetime.now(UTC))
        assert _eventually(lambda: len(evaluation.runs) == 2)
    finally:
        trigger.close()


def test_starting_the_trigger_warms_the_evaluation_without_evaluating() -> None:
    """start() (with the worker) prepares sending; nothing is evaluated until a request."""
    evaluation = FakeEvaluation()
    trigger = EvaluationTrigger(evaluation, settle_s=0.0, min_interval_s=0.0)
    try:
        trigger.start()
        assert _eventually(lambda: evaluation.warmed)
        time.sleep(0.1)
        assert evaluation.runs == []
        trigger.request(datetime.now(UTC))
        assert _eventually(lambda: len(evaluation.runs) == 1)
    finally:
        trigger.close()


def test_closing_the_trigger_closes_the_evaluation() -> None:
    """Stopping the worker closes the evaluation, whose notifier reports what still waited."""
    evaluation = FakeEvaluation()
    trigger = EvaluationTrigger(evaluation, settle_s=0.0, min_interval_s=0.0)
    trigger.start()
    trigger.close()
    assert evaluation.closed
