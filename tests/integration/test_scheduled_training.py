"""The worker's daily training: what it registers, and what it leaves as the operator set it."""

from __future__ import annotations

import dataclasses

import pytest
from huey import MemoryHuey
from sqlalchemy import Engine

from controltower.bootstrap.queue import register_tasks
from controltower.config import Settings
from controltower.intelligence import registry
from tests.support.predictions import small_history, store


def _training_task(engine: Engine, settings: Settings) -> object:
    on = settings.model_copy(
        update={"intelligence": settings.intelligence.model_copy(update={"mode": "shadow"})}
    )
    task = register_tasks(MemoryHuey("t", immediate=True), engine, settings=on).train
    assert task is not None
    return task


@pytest.mark.parametrize("conclusion", ["success", "failure"])
def test_a_history_of_one_outcome_registers_nothing_and_raises_nothing(
    engine: Engine, settings: Settings, conclusion: str
) -> None:
    """Every run passed (or failed): the task logs why it trained nothing; no version exists."""
    store(engine, [dataclasses.replace(r, conclusion=conclusion) for r in small_history()])
    task = _training_task(engine, settings)
    assert task.call_local() is None  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert registry.versions(conn) == []
