"""Sending notifications through apprise, in the background, retried with backoff.

``Notifier.deliver`` returns at once: each URL a notification goes to is sent
from a small thread pool, and a failed send (an error status, a refused
connection, a receiver that does not answer within the URL's timeout) is
tried again after ``backoff_base_s`` doubled on each attempt, at most
``backoff_max_s``, up to ``retries`` times. Waiting between attempts holds no
thread, so one dead receiver never delays the others.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import apprise
import structlog

from controltower.config import AlertSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Notification:
    """An alert starting to fire (or growing worse), or resolving."""

    key: str
    event: Literal["firing", "resolved"]
    severity: str
    title: str
    detail: str
    since: datetime

    @property
    def text(self) -> str:
        """The message as a person reads it in a chat or a page."""
        head = "RESOLVED" if self.event == "resolved" else self.severity.upper()
        return f"{head}: {self.title}\n{self.detail}"


NOTIFY_TYPES = {
    "critical": apprise.NotifyType.FAILURE,
    "warning": apprise.NotifyType.WARNING,
    "info": apprise.NotifyType.INFO,
}


class Notifier:
    """Delivers notifications to the URLs their severity is routed to."""

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="notify")
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()
        self._closed = False

    def deliver(self, notification: Notification) -> None:
        """Send ``notification`` in the background to every URL of its severity's route."""
        for url in self.settings.urls(notification.severity):
            self._submit(url, notification, 0)

    def close(self) -> None:
        """Stop retrying and sending; sends in flight finish on their own."""
        with self._lock:
            self._closed = True
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _submit(self, url: str, notification: Notification, attempt: int) -> None:
        with self._lock:
            if not self._closed:
                self._pool.submit(self._attempt, url, notification, attempt)

    def _attempt(self, url: str, notification: Notification, attempt: int) -> None:
        if send(url, notification):
            log.info("notification sent", key=notification.key, state=notification.event)
            return
        if attempt >= self.settings.retries:
            log.error("notification not sent", key=notification.key, attempts=attempt + 1)
            return
        delay = min(self.settings.backoff_base_s * 2**attempt, self.settings.backoff_max_s)
        log.warning("notification failed, retrying", key=notification.key, delay_s=delay)
        timer = threading.Timer(delay, self._retry, (url, notification, attempt + 1))
        timer.daemon = True
        with self._lock:
            if self._closed:
                return
            self._timers.add(timer)
        timer.start()

    def _retry(self, url: str, notification: Notification, attempt: int) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive() and t.ident != _current()}
        self._submit(url, notification, attempt)


def send(url: str, notification: Notification) -> bool:
    """Send once to one apprise URL; whether it was accepted."""
    sender = apprise.Apprise()
    if not sender.add(url):
        log.error("notification URL not understood", scheme=url.split(":", 1)[0])
        return False
    try:
        return bool(
            sender.notify(
                body=notification.text,
                title=f"controltower: {notification.title}",
                notify_type=NOTIFY_TYPES.get(notification.severity, apprise.NotifyType.INFO),
            )
        )
    except Exception as exc:  # noqa: BLE001 (a plugin's failure is a failed send, retried)
        log.warning("notification raised", error=repr(exc))
        return False


def _current() -> int | None:
    return threading.current_thread().ident
