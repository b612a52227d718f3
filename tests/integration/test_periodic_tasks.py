"""Periodic tasks enqueued once per period by consumers sharing a real Redis or SQLite queue."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from huey import Huey, RedisHuey, SqliteHuey, crontab

from controltower.worker.periodic import KEEP, OncePerPeriodConsumer, OncePerPeriodScheduler
from tests.support.services import REDIS_URL, require
from tests.support.waiting import wait_until

AT = datetime(2026, 11, 28, 10, 15, 7)  # huey's clock: naive UTC
QUEUES = [pytest.param("redis", marks=pytest.mark.redis), "sqlite"]


@pytest.fixture(params=QUEUES)
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Huey]]:
    """Makes huey instances of one queue, as separate worker processes would open it."""
    name = f"ct_test_{uuid.uuid4().hex[:8]}"
    made: list[Huey] = []

    def open_queue() -> Huey:
        if request.param == "redis":
            huey: Huey = RedisHuey(name, url=REDIS_URL)
        else:
            huey = SqliteHuey(name, filename=str(tmp_path / "queue.db"))
        made.append(huey)
        return huey

    if request.param == "redis":
        require("Redis", "127.0.0.1", 6379)
    yield open_queue
    if made:
        made[0].flush()
    if request.param == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"huey.*.{name}*"):
            client.delete(key)


def _with_tasks(huey: Huey) -> Huey:
    """Register the periodic tasks every consumer of the queue has: each minute, and at :15."""

    @huey.periodic_task(crontab(), name="evaluate_alerts")  # type: ignore[untyped-decorator]
    def evaluate_alerts() -> None:
        return None

    @huey.periodic_task(crontab(minute="*/15"), name="reconcile_with_github")  # type: ignore[untyped-decorator]
    def reconcile() -> None:
        return None

    return huey


def _schedule_together(schedulers: list[OncePerPeriodScheduler], at: datetime) -> None:
    """Every scheduler checks its periodic tasks at ``at``, all at once."""
    start = threading.Barrier(len(schedulers))

    def check(scheduler: OncePerPeriodScheduler) -> None:
        start.wait()
        scheduler.enqueue_periodic_tasks(at)

    threads = [threading.Thread(target=check, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _queued(huey: Huey) -> list[str]:
    return sorted(task.name for task in huey.pending())


def test_consumers_checking_the_same_minute_enqueue_each_task_once(
    queue: Callable[[], Huey],
) -> None:
    """Three consumers' schedulers check at once: each task due is queued once, and again
    once the next minute it is due comes, at whatever second each consumer looks."""
    hueys = [_with_tasks(queue()) for _ in range(3)]
    schedulers = [OncePerPeriodScheduler(h, None, 1, True) for h in hueys]
    _schedule_together(schedulers, AT)
    assert _queued(hueys[0]) == ["evaluate_alerts", "reconcile_with_github"]
    _schedule_together(schedulers, AT + timedelta(seconds=40))  # still 10:15
    assert _queued(hueys[0]) == ["evaluate_alerts", "reconcile_with_github"]
    schedulers[1].enqueue_periodic_tasks(AT + timedelta(minutes=1))
    schedulers[0].enqueue_periodic_tasks(AT + timedelta(minutes=1, seconds=52))
    assert _queued(hueys[0]) == ["evaluate_alerts"] * 2 + ["reconcile_with_github"]


def test_a_slot_is_kept_an_hour_and_then_dropped(queue: Callable[[], Huey]) -> None:
    """A minute's slot stays taken past any clock skew between machines; the queue does not
    keep every slot ever taken (SQLite drops them as new ones are taken, Redis expires them)."""
    huey = _with_tasks(queue())
    scheduler = OncePerPeriodScheduler(huey, None, 1, True)
    assert scheduler.slots is not None
    assert scheduler.slots.take("evaluate_alerts", AT)
    assert not scheduler.slots.take("evaluate_alerts", AT)
    assert scheduler.slots.take("evaluate_alerts", AT + KEEP + timedelta(minutes=2))
    if isinstance(huey, SqliteHuey):
        keys = [k for k in huey.storage.result_items() if k.startswith("periodic:")]
        assert keys == ["periodic:20261128T1117:evaluate_alerts"]
    else:
        client = redis.Redis.from_url(REDIS_URL)
        ttl = client.ttl(f"huey.{huey.storage.name}.periodic:20261128T1015:evaluate_alerts")
        assert 0 < ttl <= KEEP.total_seconds()


class _Frozen(RedisHuey):  # type: ignore[misc]
    """A Redis queue whose clock stands at ``AT``: both consumers look in the same minute."""

    def _get_timestamp(self) -> datetime:
        return AT


class _ThreadConsumer(OncePerPeriodConsumer):
    """The worker's consumer, started from a test's thread (no signal handlers)."""

    def _set_signal_handlers(self) -> None:
        return None


@pytest.mark.redis
def test_two_running_consumers_on_redis_run_a_periodic_task_once() -> None:
    """Two consumers started on one Redis queue both check the periodic tasks at start:
    the task runs once, in whichever consumer takes it."""
    require("Redis", "127.0.0.1", 6379)
    name = f"ct_test_{uuid.uuid4().hex[:8]}"
    runs: list[str] = []
    consumers: list[Any] = []
    try:
        for n in (1, 2):
            huey = _Frozen(name, url=REDIS_URL)

            @huey.periodic_task(crontab(), name="evaluate_alerts")  # type: ignore[untyped-decorator]
            def evaluate_alerts(who: str = f"consumer{n}") -> None:
                runs.append(who)

            consumer = _ThreadConsumer(huey, workers=1, worker_type="thread", periodic=True)
            consumers.append(consumer)
            consumer.start()
        assert wait_until(lambda: len(runs) >= 1, 10.0)
        wait_until(lambda: len(runs) > 1, 1.5)  # a second run would come within this
    finally:
        for consumer in consumers:
            consumer.stop(graceful=True)
        if consumers:
            consumers[0].huey.flush()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"huey.*.{name}*"):
            client.delete(key)
    assert len(runs) == 1
