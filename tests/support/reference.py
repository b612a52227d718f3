"""The facts the real payload examples amount to, computed directly, for comparison."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from controltower.ingest.normalize import Fact, normalize
from controltower.ingest.processing import write_fact
from controltower.store.engine import make_engine
from controltower.store.tables import metadata
from controltower.store.writer import FactWriter
from tests.support.dump import dump_facts
from tests.support.paths import example_files

DELIVERIES: list[tuple[str, dict[str, Any]]] = [
    (path.parent.name, json.loads(path.read_text())) for path in example_files()
]


@functools.cache
def normalized() -> tuple[tuple[Fact, ...], ...]:
    """The facts of each delivery, normalized once.

    Normalizing is a pure function of one delivery, so the order deliveries
    arrive in can only matter to the writer; the property tests write these
    facts in many orders instead of normalizing every delivery again each time.
    """
    return tuple(tuple(normalize(event, payload).facts) for event, payload in DELIVERIES)


def apply(engine: Engine, order: list[int]) -> None:
    """Write the deliveries' facts in ``order``, each delivery in its own transaction."""
    facts = normalized()
    for index in order:
        with engine.begin() as conn:
            writer = FactWriter(conn)
            for fact in facts[index]:
                write_fact(writer, fact)


def fresh_engine(directory: str) -> Engine:
    """A SQLite file with the declared tables."""
    engine = make_engine(f"sqlite:///{Path(directory) / 'facts.db'}")
    metadata.create_all(engine)
    return engine


@functools.cache
def reference_dump() -> dict[str, list[Any]]:
    """The dump of all examples applied once, in file order."""
    with tempfile.TemporaryDirectory() as directory:
        engine = fresh_engine(directory)
        apply(engine, list(range(len(DELIVERIES))))
        dump = dump_facts(engine)
        engine.dispose()
    return dump
