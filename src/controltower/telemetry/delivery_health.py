"""Whether notifications get through to each channel URL: what health reads from the outbox.

A receiver that fails once and takes the retry is how delivery normally looks
(a deploy of the receiver, a 503 from a load balancer), so one failed attempt
whose retry is on schedule is shown, not degraded. Per configured channel URL
the verdict is the worst that holds, in this order:

- ``given-up``: its latest attempt ended a message given up (out of retries,
  refused for good, or its URL gone), until a later delivery to it;
- ``overdue``: a message still owed to it was due to be tried more than
  ``overdue_after_s`` ago and no process holds it (its claim released or
  lapsed): nobody is sending it (every worker down, say). An attempt still
  waiting for a slow receiver holds its claim, so it is not overdue;
- ``late``: a message still owed to it was kept more than
  ``max_age_minutes`` ago and is not delivered yet, however its retries go;
- ``failing``: the messages still owed to it that were tried since its last
  delivery have failed ``failed_attempts`` attempts or more between them;
- ``retrying``: fewer failed attempts than that, each retry on schedule
  (healthy; named in the detail);
- ``ok``: nothing owed has failed.

The first four degrade the ``notifications`` check (``bootstrap.health``).
Thresholds are ``alerts.delivery_health`` (``config.DeliveryHealthSettings``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, func, or_, select

from controltower.config import DeliveryHealthSettings
from controltower.domain.wording import counted
from controltower.store.tables import NotificationOutbox, table_of
from controltower.telemetry.notification_outbox import DELIVERED, GIVEN_UP, PENDING

outbox_t = table_of(NotificationOutbox)
Verdict = Literal["given-up", "overdue", "late", "failing", "retrying", "ok"]
ORDER: tuple[Verdict, ...] = ("given-up", "overdue", "late", "failing", "retrying", "ok")
DEGRADING: frozenset[Verdict] = frozenset(("given-up", "overdue", "late", "failing"))


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """How delivery to one URL of a channel stands: its verdict and the figures behind it."""

    channel: str
    target: str
    verdict: Verdict
    failed_attempts: int = 0
    overdue_s: float = 0.0
    owed_s: float = 0.0

    @property
    def degraded(self) -> bool:
        """Whether delivery to it is in trouble, not only retrying on schedule."""
        return self.verdict in DEGRADING

    def reason(self) -> str:
        """Why, in a few words: ``given up``, ``3 failed attempts since its last delivery``."""
        if self.verdict == "given-up":
            return "given up"
        if self.verdict == "overdue":
            return f"a message overdue by {_duration(self.overdue_s)}"
        if self.verdict == "late":
            return f"a message owed for {_duration(self.owed_s)}"
        attempts = counted(self.failed_attempts, "failed attempt")
        if self.verdict == "failing":
            return f"{attempts} since its last delivery"
        return f"retrying after {attempts}" if self.verdict == "retrying" else "ok"


def delivery_health(
    conn: Connection,
    targets: Sequence[tuple[str, str]],
    now: datetime,
    limits: DeliveryHealthSettings,
) -> list[TargetHealth]:
    """The verdict for each (channel, URL digest), as of ``now``."""
    unique = dict.fromkeys(targets)
    return [_judge(conn, channel, target, now, limits) for channel, target in unique]


def worst_per_channel(healths: Sequence[TargetHealth]) -> dict[str, TargetHealth]:
    """Each channel's worst verdict over its URLs."""
    worst: dict[str, TargetHealth] = {}
    for health in healths:
        kept = worst.get(health.channel)
        if kept is None or ORDER.index(health.verdict) < ORDER.index(kept.verdict):
            worst[health.channel] = health
    return worst


def _judge(
    conn: Connection, channel: str, target: str, now: datetime, limits: DeliveryHealthSettings
) -> TargetHealth:
    mine = (outbox_t.c.channel == channel) & (outbox_t.c.target == target)
    latest = conn.execute(
        select(outbox_t.c.state)
        .where(mine, outbox_t.c.last_attempt_at.is_not(None))
        .order_by(outbox_t.c.last_attempt_at.desc(), outbox_t.c.id.desc())
        .limit(1)
    ).scalar()
    if latest == GIVEN_UP:
        return TargetHealth(channel, target, "given-up")
    delivered_at = conn.execute(
        select(func.max(outbox_t.c.last_attempt_at)).where(mine, outbox_t.c.state == DELIVERED)
    ).scalar()
    owed = mine & (outbox_t.c.state == PENDING)
    unheld = or_(outbox_t.c.claimed_until.is_(None), outbox_t.c.claimed_until < now)
    due = conn.execute(select(func.min(outbox_t.c.next_attempt_at)).where(owed, unheld)).scalar()
    kept = conn.execute(select(func.min(outbox_t.c.created_at)).where(owed)).scalar()
    tried_since = owed & (outbox_t.c.attempts > 0)
    if delivered_at is not None:
        tried_since &= outbox_t.c.last_attempt_at > delivered_at
    failed = int(
        conn.execute(
            select(func.coalesce(func.sum(outbox_t.c.attempts), 0)).where(tried_since)
        ).scalar_one()
    )
    overdue_s = (now - due).total_seconds() if due is not None else 0.0
    owed_s = (now - kept).total_seconds() if kept is not None else 0.0
    verdict: Verdict = "retrying" if failed else "ok"
    if overdue_s > limits.overdue_after_s:
        verdict = "overdue"
    elif owed_s > timedelta(minutes=limits.max_age_minutes).total_seconds():
        verdict = "late"
    elif failed >= limits.failed_attempts:
        verdict = "failing"
    return TargetHealth(channel, target, verdict, failed, max(overdue_s, 0.0), owed_s)


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return counted(round(seconds), "second")
    return counted(minutes, "minute") if minutes < 120 else counted(round(minutes / 60), "hour")
