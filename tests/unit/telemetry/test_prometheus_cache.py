"""The store collector answers scrapes from a short cache."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event

from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.telemetry.prometheus import StoreCollector


def test_scrapes_within_the_ttl_do_not_query_the_store(tmp_path: Path) -> None:
    """Two scrapes a second apart run the queries once; a scrape after the TTL runs them again."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ct.db'}")
    schema.upgrade(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    now = [100.0]
    collector = StoreCollector(engine, ttl_s=10, clock=lambda: now[0])
    first = [m.name for m in collector.collect()]
    queries = len(statements)
    now[0] += 1
    assert [m.name for m in collector.collect()] == first
    assert len(statements) == queries
    now[0] += 20
    list(collector.collect())
    assert len(statements) == 2 * queries
    assert "cicd_pipeline_run_duration_seconds" in first
    engine.dispose()
