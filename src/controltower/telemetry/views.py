"""Materialized views of window figures: computed once, served while fresh, refreshed behind.

A window's figures over a million-run history take the database and Python a
second or more to compute, and they change slowly: a dashboard showing the
last 30 days needs them to the minute, not to the millisecond. ``Views``
keeps each computed view (keyed by what it shows: page, days, filters) and
serves it for ``ttl_s`` seconds. After that the next request still gets the
kept figures at once, and one background thread recomputes them
(stale-while-revalidate), so only the first request for a view waits. Two
requests for a view nobody has computed yet share one computation.

Every view carries when it was computed, which pages show beside the figures.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import structlog

T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class View(Generic[T]):
    """Figures and when they were computed."""

    value: T
    computed_at: datetime
    seconds: float


@dataclass(slots=True)
class _Entry:
    view: View[Any]
    at: float


class Views:
    """Keeps computed views for ``ttl_s`` (0: compute on every request), at most ``capacity``."""

    def __init__(
        self,
        ttl_s: float,
        capacity: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._running: dict[Hashable, Future[View[Any]]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="views")

    def get(self, key: Hashable, compute: Callable[[], T]) -> View[T]:
        """The view ``key``: kept if fresh, kept and refreshed behind if stale, else computed."""
        if self.ttl_s <= 0:
            return _computed(compute)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                if self._clock() - entry.at >= self.ttl_s and key not in self._running:
                    self._running[key] = self._pool.submit(self._compute, key, compute)
                return entry.view
            running = self._running.get(key)
            if running is None:
                running = Future()
                self._running[key] = running
                owner = True
            else:
                owner = False
        if owner:
            self._compute(key, compute, running)
        return running.result()

    def warm(self, key: Hashable, compute: Callable[[], Any]) -> None:
        """Compute ``key`` in the background unless it is kept or being computed."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if key in self._entries or key in self._running:
                return
            self._running[key] = self._pool.submit(self._compute, key, compute)

    def clear(self) -> None:
        """Forget every kept view."""
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        """Stop the background thread (a refresh in progress finishes first)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _compute(
        self, key: Hashable, compute: Callable[[], T], future: Future[View[T]] | None = None
    ) -> View[T]:
        try:
            view = _computed(compute)
        except BaseException as exc:
            with self._lock:
                self._running.pop(key, None)
            log.warning("view not computed", key=repr(key), error=repr(exc))
            if future is not None:
                future.set_exception(exc)
            raise
        with self._lock:
            self._entries[key] = _Entry(view, self._clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
            self._running.pop(key, None)
        if future is not None:
            future.set_result(view)
        return view


def _computed(compute: Callable[[], T]) -> View[T]:
    started = time.perf_counter()
    value = compute()
    return View(value, datetime.now(UTC), time.perf_counter() - started)
