"""Waiting for what a background thread or another process does, without fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from controltower.store.tables import Delivery, table_of


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes; whether it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def store_pending(engine: Engine, count: int) -> None:
    """``count`` ping deliveries waiting to be processed: a backlog for the health problems."""
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(Delivery)),
            [
                {
                    "guid": f"g{i}",
                    "event": "ping",
                    "content_type": "application/json",
                    "body": b"{}",
                    "received_at": datetime.now(UTC),
                }
                for i in range(count)
            ],
        )
