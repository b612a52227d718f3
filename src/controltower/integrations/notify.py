"""Delivering notifications in the background, retried with backoff, kept until delivered.

``Notifier.deliver_all`` returns at once. The notifications of one evaluation
become messages (``alert_messages.messages_for``: grouped per URL and group,
one per alert for PagerDuty), and each message is sent (``channels.send``)
from a small thread pool of its own URL's: a receiver that hangs holds only
its own URL's threads, so it never delays a message to another. A failed
send (an error status, a refused connection, a receiver that does not answer
within the URL's timeout, 5 s unless it says otherwise) is tried again after
``backoff_base_s`` doubled on each attempt, or after the receiver's
``Retry-After`` when it gave one, at most ``backoff_max_s``, up to
``retries`` times; a refusal that cannot change (a 4xx other than 408 and
429, a URL not understood) is not retried. Waiting between attempts holds no
thread, so one dead receiver never delays the others.

With an ``Outbox`` (the database's, ``telemetry.notification_outbox``), every
message is kept there before its first attempt, with its channel, the
attempts made and when the next is due, and marked delivered or given up
when it ends. Closing the notifier (the process stopping) releases what is
still waiting, and ``resume`` (at start, by ``warm``, then every
``RESUME_EVERY_S`` on a thread of its own, whether or not evaluations come)
takes up every message no running process holds, at its next attempt's time:
a restart loses no retry, and a message a killed process held is taken up
soon after its claim lapses. Before
each attempt the notifier renews its claim on the message (``Outbox.take``),
for as long as the attempt may wait (its URL's timeout) and a minute more,
and sends only while it still holds it, so a message another process took
up (this one having stalled past its claim) is not sent twice. The attempt's
outcome is written only while the claim it renewed is still the row's: an
attempt whose claim lapsed and was taken up meanwhile (it waited longer than
its claim on a stalled process) logs its outcome and drops it, neither
reporting it nor scheduling a retry, so it never overwrites what the process
that holds the message now recorded. A message
whose channel no longer has its URL is given up. When the outbox
cannot be written, the message is still sent from memory (and, if the
process stops first, reported given up): keeping it never blocks sending.

When a message is accepted or given up, ``on_outcome`` hears of it (for the
notification log), naming its channel as configured (``slack``, not the URL,
which holds secrets); its failure is logged and changes nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import httpx
import structlog

from controltower.config import AlertSettings
from controltower.integrations import channels
from controltower.integrations.alert_messages import Message, Notification, messages_for

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["Notification", "Notifier", "Outbox", "Outcome", "Owed", "Prepared"]
# A message is held by the process sending it until this long after its next attempt is due.
LEASE_S = 60.0
# How often a sending process looks for messages nobody holds (a killed process's, once
# their claims lapse): a minute after their attempt was due, and at most this long more.
RESUME_EVERY_S = 15.0
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How sending one message to one channel (by its configured name) ended."""

    message: Message
    channel: str
    attempts: int
    sent_at: datetime | None
    error: str | None = None


OutcomeHook = Callable[[Outcome], object]


@dataclass(frozen=True, slots=True)
class Owed:
    """A message kept in the outbox, to be resumed: its row, channel, URL digest, attempts
    made and when the next is due."""

    id: int
    channel: str
    target: str
    message: Message
    attempts: int
    next_attempt_at: datetime
    claimed_until: datetime


class Outbox(Protocol):
    """Where messages are kept until they are delivered or given up."""

    def add(
        self,
        entries: Sequence[tuple[str, str, str, Message]],
        now: datetime,
        claimed_until: datetime,
        conn: Connection | None = None,
    ) -> list[int]:
        """Keep each (channel, target, scheme, message), in ``conn``'s transaction if given;
        their ids."""

    def failed(
        self,
        id_: int,
        attempts: int,
        error: str | None,
        at: datetime,
        next_at: datetime,
        claimed_until: datetime,
        *,
        held_until: datetime,
    ) -> bool:
        """An attempt failed; the next is due at ``next_at``. Whether it was written: only
        while this process still holds ``id_`` as it last claimed it (until ``held_until``)."""

    def delivered(self, id_: int, attempts: int, at: datetime, *, held_until: datetime) -> bool:
        """The receiver accepted it; whether it was written (as ``failed``)."""

    def given_up(
        self, id_: int, attempts: int, error: str | None, at: datetime, *, held_until: datetime
    ) -> bool:
        """No more attempts; whether it was written (as ``failed``)."""

    def release(self, ids: Sequence[int]) -> None:
        """Free the claims on ``ids``: another start resumes them."""

    def take(self, id_: int, claimed_until: datetime) -> bool:
        """Whether this process still holds ``id_``, renewing its claim until then."""

    def claim(self, now: datetime, lease_s: float, skip: Collection[int] = ()) -> list[Owed]:
        """Claim every pending message no process holds, but those in ``skip``."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message waiting to be sent to ``url`` of ``channel``: its attempt (0 the first) not
    made yet, its row in the outbox (none when it could not be kept) and until when this
    process last claimed that row."""

    url: str
    channel: str
    message: Message
    attempt: int
    id: int | None = None
    held_until: datetime | None = None


class Notifier:
    """Delivers notifications to the URLs their severity is routed to."""

    def __init__(
        self,
        settings: AlertSettings,
        on_outcome: OutcomeHook | None = None,
        outbox: Outbox | None = None,
        clock: Callable[[], datetime] | None = None,
        resume_every_s: float = RESUME_EVERY_S,
    ) -> None:
        self.settings = settings
        self._on_outcome = on_outcome
        self._outbox = outbox
        self._clock = clock or (lambda: datetime.now(UTC))
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._pending: dict[object, Prepared] = {}
        self._timers: dict[object, threading.Timer] = {}
        self._closed = False
        self._resumed_at: datetime | None = None
        self._resume_every_s = resume_every_s
        self._stopping = threading.Event()
        self._resumer: threading.Thread | None = None
        self._held: set[int] = set()  # outbox rows this notifier is sending or waiting on

    def deliver(self, notification: Notification) -> None:
        """Send ``notification`` in the background to every URL of its severity's route."""
        self.deliver_all([notification])

    def deliver_all(self, notifications: Sequence[Notification]) -> None:
        """Keep and send the notifications of one evaluation in the background, grouped per
        channel URL."""
        self.dispatch(self.prepare(notifications))

    def prepare(
        self, notifications: Sequence[Notification], conn: Connection | None = None
    ) -> list[Prepared]:
        """The messages of ``notifications``, kept in the outbox: in the transaction of
        ``conn`` when given (the evaluation's, so the alerts and what they owe commit
        together, and a failure to keep them fails it), else on their own (a failure is
        logged, and they are sent from memory)."""
        pairs = messages_for(
            notifications, self.settings.urls, self.settings.group_by, channels.per_alert
        )
        return self._keep([Prepared(u, self._channel_of(u), m, 0) for u, m in pairs], conn)

    def dispatch(self, prepared: Sequence[Prepared]) -> None:
        """Send ``prepared`` in the background; now and then, resume messages no running
        process holds."""
        for pending in prepared:
            self._submit(pending)
        last = self._resumed_at
        if last is None or (self._clock() - last).total_seconds() >= self._resume_every_s:
            self.resume()

    def resume(self) -> int:
        """Take up the messages in the outbox no running process holds, each at its next
        attempt's time (at once when due); how many. A message whose channel no longer has
        its URL is given up."""
        if self._outbox is None:
            return 0
        now = self._resumed_at = self._clock()
        with self._lock:
            busy = set(self._held)
        try:
            owed = self._outbox.claim(now, LEASE_S, busy)
        except Exception:  # the outbox unreadable now: the next call tries again
            log.exception("notifications not resumed")
            return 0
        for row in owed:
            with self._lock:
                mine = row.id in self._held  # still waiting for its turn here
            if mine:
                continue
            url = self._url_of(row.channel, row.target)
            if url is None:
                error = f"given up: channel {row.channel} no longer has this URL"
                log.error("notification not sent", channel=row.channel, error=error)
                held = row.claimed_until
                if self._recorded("given_up", row.channel, row.id, held, row.attempts, error, now):
                    self._report(Outcome(row.message, row.channel, row.attempts, None, error))
                continue
            pending = Prepared(
                url, row.channel, row.message, row.attempts, row.id, row.claimed_until
            )
            delay = (row.next_attempt_at - now).total_seconds()
            if delay > 0:
                self._later(delay, pending)
            else:
                self._submit(pending)
        if owed:
            log.info("notifications resumed", count=len(owed))
        return len(owed)

    def warm(self) -> None:
        """Prepare sending now, not while the first alert waits: apprise's plugins if a URL
        needs them, and the HTTP client; then resume what the outbox still owes, and go on
        resuming every ``resume_every_s`` until closed."""
        urls = {url for urls in self.settings.channels.values() for url in urls}
        if any(channels.scheme_of(url) not in channels.NATIVE for url in urls):
            channels.warm_apprise()
        if urls:
            self._http()
        self.resume()
        if self._outbox is not None:
            with self._lock:
                if self._closed or self._resumer is not None:
                    return
                self._resumer = threading.Thread(
                    target=self._resume_loop, name="notify-resume", daemon=True
                )
                self._resumer.start()

    def _resume_loop(self) -> None:
        # Messages a killed process held are taken up once its claims lapse, even while no
        # evaluation hands over notifications (``interval_minutes`` may be an hour).
        while not self._stopping.wait(self._resume_every_s):
            try:
                self.resume()
            except Exception:  # the next round tries again
                log.exception("notifications not resumed")

    def close(self) -> None:
        """Stop retrying and sending; sends in flight finish on their own.

        Every message still waiting, to be sent or for its retry, stays in the outbox,
        released for the next start to resume; one that could not be kept there is
        reported given up (``on_outcome``), so the notification log shows what was lost.
        """
        self._stopping.set()
        with self._lock:
            self._closed = True
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            waiting = list(self._pending.values())
            self._pending.clear()
            pools = list(self._pools.values())
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        self._set_aside(waiting)
        if self._client is not None:
            self._client.close()

    def _keep(self, pendings: list[Prepared], conn: Connection | None) -> list[Prepared]:
        """``pendings`` with their rows in the outbox; as they are when it cannot be written
        (outside an evaluation's transaction)."""
        if self._outbox is None or not pendings:
            return pendings
        now = self._clock()
        entries = [
            (p.channel, channels.target_of(p.url), channels.scheme_of(p.url), p.message)
            for p in pendings
        ]
        until = now + timedelta(seconds=LEASE_S)
        if conn is not None:
            ids = self._outbox.add(entries, now, until, conn)
        else:
            try:
                ids = self._outbox.add(entries, now, until)
            except Exception:  # sending goes on from memory
                log.exception("notifications not kept in the outbox", count=len(pendings))
                return pendings
        return [replace(p, id=i, held_until=until) for p, i in zip(pendings, ids, strict=True)]

    def _submit(self, pending: Prepared) -> None:
        with self._lock:
            if not self._closed:
                token = object()
                self._pending[token] = pending
                if pending.id is not None:
                    self._held.add(pending.id)
                self._pool(pending.url).submit(self._attempt, token)
                return
        self._set_aside([pending])

    def _pool(self, url: str) -> ThreadPoolExecutor:
        # Called with the lock held: one pool per URL, made when first needed.
        pool = self._pools.get(url)
        if pool is None:
            name = f"notify-{channels.scheme_of(url)}"
            pool = self._pools[url] = ThreadPoolExecutor(self.settings.workers, name)
        return pool

    def _attempt(self, token: object) -> None:
        with self._lock:
            pending = self._pending.pop(token, None)
        if pending is None:  # set aside by close() before it started
            return
        try:
            self._send(pending)
        finally:
            if pending.id is not None:
                with self._lock:
                    if not any(p.id == pending.id for p in self._pending.values()):
                        self._held.discard(pending.id)

    def _send(self, pending: Prepared) -> None:
        if pending.id is not None and self._outbox is not None:
            held = self._renew(pending)
            if held is None:
                log.info("notification taken up by another process", channel=pending.channel)
                return
            pending = held
        url, message, attempt, channel = (
            pending.url,
            pending.message,
            pending.attempt,
            pending.channel,
        )
        keys = [n.key for n in message.notifications]
        sent = channels.send(url, message, self._http())
        now = self._clock()
        if sent.accepted:
            log.info("notification sent", keys=keys, channel=channel, attempts=attempt + 1)
            if self._outcome(pending, "delivered", attempt + 1, now):
                self._report(Outcome(message, channel, attempt + 1, now))
            return
        if sent.permanent or attempt >= self.settings.retries:
            log.error("notification not sent", keys=keys, channel=channel, error=sent.error)
            if self._outcome(pending, "given_up", attempt + 1, sent.error, now):
                self._report(Outcome(message, channel, attempt + 1, None, sent.error))
            return
        delay = self.settings.backoff_base_s * 2**attempt
        if sent.retry_after_s is not None:
            delay = sent.retry_after_s
        delay = min(delay, self.settings.backoff_max_s)
        log.warning("notification failed, retrying", keys=keys, channel=channel, delay_s=delay)
        next_at = now + timedelta(seconds=delay)
        until = next_at + timedelta(seconds=LEASE_S)
        if self._outcome(pending, "failed", attempt + 1, sent.error, now, next_at, until):
            self._later(delay, replace(pending, attempt=attempt + 1, held_until=until))

    def _outcome(self, pending: Prepared, outcome: str, *args: object) -> bool:
        """Record an attempt's outcome (``delivered``, ``given_up`` or ``failed``, with its
        arguments after the id) in the outbox, only while this process still holds the row
        by the claim its attempt renewed; whether the process goes on with the message (false
        when another process holds it now: the outcome is logged and dropped)."""
        if pending.id is None or pending.held_until is None:
            return True
        return self._recorded(outcome, pending.channel, pending.id, pending.held_until, *args)

    def _recorded(
        self, outcome: str, channel: str, id_: int, held_until: datetime, *args: object
    ) -> bool:
        """Write ``outcome`` for row ``id_``; false only when the outbox refused it as no
        longer held by this process's claim (logged: the outcome is dropped)."""
        if self._outbox is None:
            return True
        try:
            if getattr(self._outbox, outcome)(id_, *args, held_until=held_until):
                return True
        except Exception:  # the outbox must never break sending: go on as if written
            log.exception("notification outbox not updated", channel=channel)
            return True
        log.warning(
            "notification outcome dropped: another process holds the message now",
            channel=channel,
            outbox_id=id_,
            outcome=outcome,
        )
        return False

    def _later(self, delay_s: float, pending: Prepared) -> None:
        token = object()
        timer = threading.Timer(delay_s, self._retry, (token,))
        timer.daemon = True
        with self._lock:
            if not self._closed:
                self._pending[token] = pending
                if pending.id is not None:
                    self._held.add(pending.id)
                self._timers[token] = timer
                timer.start()
                return
        self._set_aside([pending])

    def _retry(self, token: object) -> None:
        with self._lock:
            self._timers.pop(token, None)
            pending = self._pending.pop(token, None)
        if pending is not None:
            self._submit(pending)

    def _set_aside(self, waiting: Sequence[Prepared]) -> None:
        """Messages the closed notifier will not send: released in the outbox for the next
        start, or (not kept there) reported given up."""
        kept = [p.id for p in waiting if p.id is not None]
        if kept and self._outbox is not None:
            self._store(self._outbox.release, kept)
            log.info("notifications kept for the next start", count=len(kept))
        for pending in waiting:
            if pending.id is None:
                self._abandon(pending)

    def _abandon(self, pending: Prepared) -> None:
        waited = "its retry" if pending.attempt else "its turn"
        error = f"given up: controltower stopped while it waited for {waited}"
        keys = [n.key for n in pending.message.notifications]
        log.error("notification not sent", keys=keys, channel=pending.channel, error=error)
        self._report(Outcome(pending.message, pending.channel, pending.attempt, None, error))

    def _channel_of(self, url: str) -> str:
        """The name of the configured channel ``url`` belongs to."""
        return next(
            (name for name, urls in self.settings.channels.items() if url in urls),
            channels.scheme_of(url),
        )

    def _url_of(self, channel: str, target: str) -> str | None:
        """The URL of ``channel`` whose digest is ``target``, if it still has it."""
        urls = self.settings.channels.get(channel, [])
        return next((url for url in urls if channels.target_of(url) == target), None)

    def _renew(self, pending: Prepared) -> Prepared | None:
        """``pending`` with its claim renewed for the attempt (however long its URL's timeout)
        and a minute more, or none when this process no longer holds its row; when the outbox
        cannot say, it is sent under the claim it had: a message twice beats a message lost."""
        assert self._outbox is not None
        assert pending.id is not None
        lease = LEASE_S + channels.timeout_of(pending.url)
        until = self._clock() + timedelta(seconds=lease)
        try:
            taken = self._outbox.take(pending.id, until)
        except Exception:  # the outbox unreadable now
            log.exception("notification claim not renewed", channel=pending.channel)
            return pending
        return replace(pending, held_until=until) if taken else None

    def _store(self, write: Callable[..., object], *args: object) -> None:
        try:
            write(*args)
        except Exception:  # the outbox must never break sending
            log.exception("notification outbox not updated")

    def _http(self) -> httpx.Client:
        # One client for every native send, made when first needed (building its TLS
        # context takes a while): connections and the context are reused.
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(follow_redirects=False)
            return self._client

    def _report(self, outcome: Outcome) -> None:
        if self._on_outcome is None:
            return
        try:
            self._on_outcome(outcome)
        except Exception:  # the log of notifications must never break sending
            log.exception("notification outcome not recorded", channel=outcome.channel)
