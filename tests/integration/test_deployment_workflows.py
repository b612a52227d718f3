"""Workflows configured as deployments are matched by their glob patterns in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from controltower.config import DoraSettings
from controltower.ingest.history import parse_record
from controltower.store.writer import FactWriter
from controltower.telemetry.deployments import deployment_events
from controltower.telemetry.metrics import Window
from controltower.telemetry.scope import Filters

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def test_glob_patterns_match_case_insensitively_and_literally(engine: Engine) -> None:
    """``*deploy*`` finds 'Deploy_Prod'; ``ship_it`` does not take '_' as a wildcard."""
    names = ["Deploy_Prod", "build", "shipXit", "ship_it", "100% release"]
    records = [
        {
            "repository": "octo/app",
            "run_id": i,
            "workflow": name,
            "branch": "main",
            "conclusion": "success",
            "created_at": (T0 + timedelta(hours=i)).isoformat(),
            "completed_at": (T0 + timedelta(hours=i, minutes=5)).isoformat(),
        }
        for i, name in enumerate(names)
    ]
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in records])
    settings = DoraSettings(deployment_workflows=["*DEPLOY*", "ship_it", "100% *"])
    window = Window(T0, T0 + timedelta(days=1))
    with engine.connect() as conn:
        events = deployment_events(conn, window, Filters(), settings)
    assert sorted(e.environment for e in events) == [
        "workflow: 100% release",
        "workflow: Deploy_Prod",
        "workflow: ship_it",
    ]
