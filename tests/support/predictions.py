"""Stored histories and trained versions for prediction tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Engine

from controltower.domain import RunFact
from controltower.intelligence.evaluation import evaluate
from controltower.intelligence.job_evaluation import evaluate_jobs
from controltower.intelligence.records import HistoryRun, request_order
from controltower.intelligence.training import Trained, train
from controltower.store.writer import FactWriter
from tests.support.histories import synthetic_history, synthetic_jobs


def _at(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


def fact_of(run: HistoryRun) -> RunFact:
    """The ``RunFact`` that stores ``run``."""
    return RunFact(
        repository=run.repository,
        run_id=run.run_id,
        attempt=run.attempt,
        run_number=run.run_number,
        workflow=run.workflow,
        event=run.event,
        branch=run.branch,
        head_sha=run.head_sha,
        actor=run.actor,
        status=run.status,
        conclusion=run.conclusion,
        created_at=_at(run.created),
        started_at=_at(run.started),
        completed_at=_at(run.completed),
        duration_s=run.duration_s,
        files_changed=run.files_changed,
        lines_added=run.lines_added,
        lines_deleted=run.lines_deleted,
        source="import",
        snapshot="1",
    )


def store(engine: Engine, runs: Sequence[HistoryRun]) -> None:
    """Write ``runs`` to the database."""
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([fact_of(r) for r in runs])


@cache
def small_history() -> tuple[HistoryRun, ...]:
    """Two synthetic repositories of 120 runs each."""
    return tuple(synthetic_history(runs=120))


@cache
def trained_version() -> tuple[Trained, dict[str, Any]]:
    """Models trained on ``small_history`` and their evaluation report (computed once)."""
    runs = small_history()
    return train(runs, threads=1), evaluate(runs)


@cache
def trained_with_jobs() -> tuple[Trained, dict[str, Any]]:
    """Models trained on ``small_history`` with its synthetic jobs; the report carries ``jobs``."""
    runs = request_order(small_history())
    jobs = synthetic_jobs(runs)
    report = {**trained_version()[1], "jobs": evaluate_jobs(runs, jobs)}
    return train(runs, jobs=jobs, threads=1), report
