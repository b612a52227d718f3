"""The facts the real payload examples amount to, computed directly, for comparison."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from controltower.ingest.normalize import normalize
from controltower.ingest.processing import write_fact
from controltower.store.engine import make_engine
from controltower.store.tables import metadata
from controltower.store.writer import FactWriter
from tests.support.dump import dump_facts
from tests.support.paths import example_files

DELIVERIES: list[tuple[str, dict[str, Any]]] = [
    (path.parent.name, json.loads(path.read_text())) for path in example_files()
]


def apply(engine: Engine, order: list[int]) -> None:
    """Normalize and write the deliveries in ``order``, each in its own transaction."""
    for index in order:
        event, payload = DELIVERIES[index]
        with engine.begin() as conn:
            writer = FactWriter(conn)
            for fact in normalize(event, payload).facts:
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
