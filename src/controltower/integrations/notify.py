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
its failure is logged and changes nothing else.
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


class Notifier:
    """Delivers notifications to the URLs their severity is routed to."""

    def __init__(self, settings: AlertSettings, on_outcome: OutcomeHook | None = None) -> None:
        self.settings = settings
        self._on_outcome = on_outcome
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()
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
        """Stop retrying and sending; sends in flight finish on their own."""
        with self._lock:
            self._closed = True
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            pools = list(self._pools.values())
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    def _submit(self, url: str, message: Message, attempt: int) -> None:
        with self._lock:
            if self._closed:
                return
            pool = self._pools.get(url)
            if pool is None:
                name = f"notify-{channels.scheme_of(url)}"
                pool = ThreadPoolExecutor(self.settings.workers, thread_name_prefix=name)
                self._pools[url] = pool
            pool.submit(self._attempt, url, message, attempt)

    def _attempt(self, url: str, message: Message, attempt: int) -> None:
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
        timer = threading.Timer(delay, self._retry, (url, message, attempt + 1))
        timer.daemon = True
        with self._lock:
            if self._closed:
                return
            self._timers.add(timer)
        timer.start()

    def _retry(self, url: str, message: Message, attempt: int) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive() and t.ident != _current()}
        self._submit(url, message, attempt)

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


def _current() -> int | None:
    return threading.current_thread().ident
