"""Delivering notifications in the background, retried with backoff, each outcome reported.

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
thread, so one dead receiver never delays the others. When a message is
accepted or given up, ``on_outcome`` hears of it (for the notification log);
its failure is logged and changes nothing else. Closing the notifier (the
process stopping) gives up every message still waiting to be sent or
retried, and reports each: nothing is dropped without a trace.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import structlog

from controltower.config import AlertSettings
from controltower.integrations import channels
from controltower.integrations.alert_messages import Message, Notification, messages_for

__all__ = ["Notification", "Notifier", "Outcome"]
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How sending one message to one channel ended."""

    message: Message
    channel: str
    attempts: int
    sent_at: datetime | None
    error: str | None = None


OutcomeHook = Callable[[Outcome], object]


@dataclass(frozen=True, slots=True)
class _Pending:
    """A message waiting to be sent to ``url``: its attempt (0 the first) not made yet."""

    url: str
    message: Message
    attempt: int


class Notifier:
    """Delivers notifications to the URLs their severity is routed to."""

    def __init__(self, settings: AlertSettings, on_outcome: OutcomeHook | None = None) -> None:
        self.settings = settings
        self._on_outcome = on_outcome
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._pending: dict[object, _Pending] = {}
        self._timers: dict[object, threading.Timer] = {}
        self._closed = False

    def deliver(self, notification: Notification) -> None:
        """Send ``notification`` in the background to every URL of its severity's route."""
        self.deliver_all([notification])

    def deliver_all(self, notifications: Sequence[Notification]) -> None:
        """Send the notifications of one evaluation in the background, grouped per channel."""
        pairs = messages_for(
            notifications, self.settings.urls, self.settings.group_by, channels.per_alert
        )
        for url, message in pairs:
            self._submit(url, message, 0)

    def warm(self) -> None:
        """Prepare sending now, not while the first alert waits: apprise's plugins if a URL
        needs them, and the HTTP client."""
        urls = {url for urls in self.settings.channels.values() for url in urls}
        if any(channels.scheme_of(url) not in channels.NATIVE for url in urls):
            channels.warm_apprise()
        if urls:
            self._http()

    def close(self) -> None:
        """Stop retrying and sending; sends in flight finish on their own.

        Every message still waiting, to be sent or for its retry, is reported given up
        (``on_outcome``), so the notification log and health show what was lost.
        """
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
        for pending in waiting:
            self._abandon(pending)
        if self._client is not None:
            self._client.close()

    def _submit(self, url: str, message: Message, attempt: int) -> None:
        pending = _Pending(url, message, attempt)
        with self._lock:
            if not self._closed:
                token = object()
                self._pending[token] = pending
                self._pool(url).submit(self._attempt, token)
                return
        self._abandon(pending)

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
        if pending is None:  # given up by close() before it started
            return
        url, message, attempt = pending.url, pending.message, pending.attempt
        scheme = channels.scheme_of(url)
        keys = [n.key for n in message.notifications]
        sent = channels.send(url, message, self._http())
        if sent.accepted:
            log.info("notification sent", keys=keys, channel=scheme, attempts=attempt + 1)
            self._report(Outcome(message, scheme, attempt + 1, datetime.now(UTC)))
            return
        if sent.permanent or attempt >= self.settings.retries:
            log.error("notification not sent", keys=keys, channel=scheme, error=sent.error)
            self._report(Outcome(message, scheme, attempt + 1, None, sent.error))
            return
        delay = self.settings.backoff_base_s * 2**attempt
        if sent.retry_after_s is not None:
            delay = sent.retry_after_s
        delay = min(delay, self.settings.backoff_max_s)
        log.warning("notification failed, retrying", keys=keys, channel=scheme, delay_s=delay)
        self._later(delay, _Pending(url, message, attempt + 1))

    def _later(self, delay_s: float, pending: _Pending) -> None:
        token = object()
        timer = threading.Timer(delay_s, self._retry, (token,))
        timer.daemon = True
        with self._lock:
            if not self._closed:
                self._pending[token] = pending
                self._timers[token] = timer
                timer.start()
                return
        self._abandon(pending)

    def _retry(self, token: object) -> None:
        with self._lock:
            self._timers.pop(token, None)
            pending = self._pending.pop(token, None)
        if pending is not None:
            self._submit(pending.url, pending.message, pending.attempt)

    def _abandon(self, pending: _Pending) -> None:
        scheme = channels.scheme_of(pending.url)
        waited = "its retry" if pending.attempt else "its turn"
        error = f"given up: controltower stopped while it waited for {waited}"
        keys = [n.key for n in pending.message.notifications]
        log.error("notification not sent", keys=keys, channel=scheme, error=error)
        self._report(Outcome(pending.message, scheme, pending.attempt, None, error))

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
