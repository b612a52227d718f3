"""Kept views: fresh ones served, stale ones served and refreshed behind, misses shared."""

from __future__ import annotations

import threading
import time

import pytest

from controltower.telemetry.views import Views


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Counter:
    """A computation that counts its calls and can be held back."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.release.set()

    def __call__(self) -> int:
        self.release.wait(5)
        self.calls += 1
        return self.calls


def _wait_for(predicate: object, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_fresh_view_is_served_without_computing_again() -> None:
    """Within the time to live the kept figures are served as they are."""
    clock, compute = Clock(), Counter()
    views = Views(60, clock=clock)
    first = views.get("k", compute)
    clock.now = 59
    again = views.get("k", compute)
    views.close()
    assert (first.value, again.value, compute.calls) == (1, 1, 1)
    assert again.computed_at == first.computed_at


def test_a_stale_view_is_served_at_once_and_refreshed_behind() -> None:
    """After the time to live, the old figures answer and the new ones follow."""
    clock, compute = Clock(), Counter()
    views = Views(60, clock=clock)
    views.get("k", compute)
    clock.now = 61
    compute.release.clear()
    stale = views.get("k", compute)
    assert stale.value == 1
    compute.release.set()
    _wait_for(lambda: views.get("k", compute).value == 2)
    views.close()
    assert compute.calls == 2


def test_concurrent_requests_for_a_missing_view_share_one_computation() -> None:
    """Eight requests at once compute the view once and all get it."""
    compute = Counter()
    compute.release.clear()
    views = Views(60)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(views.get("k", compute).value))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    compute.release.set()
    for thread in threads:
        thread.join(5)
    views.close()
    assert results == [1] * 8
    assert compute.calls == 1


def test_a_failed_computation_is_not_kept() -> None:
    """The error reaches the caller; the next request computes again."""
    views = Views(60)
    with pytest.raises(ZeroDivisionError):
        views.get("k", lambda: 1 // 0)
    assert views.get("k", lambda: 7).value == 7
    views.close()


def test_without_a_time_to_live_every_request_computes() -> None:
    """``view_ttl_s: 0`` turns keeping off."""
    compute = Counter()
    views = Views(0)
    assert [views.get("k", compute).value for _ in range(3)] == [1, 2, 3]
    views.close()


def test_warming_computes_in_the_background_and_the_oldest_views_are_dropped() -> None:
    """A warmed view is there before anyone asks; past capacity the least used goes."""
    views = Views(60, capacity=2)
    views.warm("a", lambda: "warm")
    _wait_for(lambda: views.get("a", lambda: "cold").value == "warm")
    views.get("b", lambda: "b")
    views.get("c", lambda: "c")
    assert views.get("a", lambda: "recomputed").value == "recomputed"
    views.close()
