"""The mode of each capability now: switched live in the database, else from the settings.

``controltower capability set`` and ``PUT /api/v1/capabilities/{name}`` append a
switch (``store.capabilities``). The worker's prediction hook, the API and the
pages read the newest switches through a cache of ``CACHE_S`` seconds per
process and database, so a switch takes effect everywhere within that time,
without a restart. With no switch stored, the settings' ``intelligence.mode``
holds; ``CONTROLTOWER_ML_ENABLED=false`` wins over both. A switch never
deletes data: ``off`` stops new predictions and hides the shown ones,
switching back shows them again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from controltower.config import Settings
from controltower.errors import InvalidMode, UnknownCapability
from controltower.store.capabilities import Switch, current_switches, record_switch

PREDICTION = "prediction"
CAPABILITIES = (PREDICTION,)
MODES = ("off", "shadow", "canary", "on")
SHOWN = frozenset({"canary", "on"})
CACHE_S = 1.0

_cache: dict[str, tuple[float, dict[str, Switch]]] = {}
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class CapabilityMode:
    """A capability's mode now and where it comes from: a switch, the settings or ml_enabled."""

    name: str
    mode: str
    source: str
    switch: Switch | None

    @property
    def predicts(self) -> bool:
        """Whether new runs are predicted at all."""
        return self.mode != "off"

    @property
    def shows(self) -> bool:
        """Whether stored predictions chosen to be shown are shown now."""
        return self.mode in SHOWN


def effective(settings: Settings, name: str, switch: Switch | None) -> CapabilityMode:
    """The mode of ``name`` given its newest switch (or None) and the settings."""
    if not settings.enabled:  # everything but collection stops acting
        return CapabilityMode(name, "off", "enabled", switch)
    if not settings.ml_enabled:
        return CapabilityMode(name, "off", "ml_enabled", switch)
    if switch is not None:
        return CapabilityMode(name, switch.mode, "switch", switch)
    return CapabilityMode(name, settings.intelligence.mode, "settings", None)


def _key(bind: Engine | Connection) -> str:
    return bind.engine.url.render_as_string(hide_password=True)


def _switches(bind: Engine | Connection) -> dict[str, Switch]:
    key = _key(bind)
    with _lock:
        cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < CACHE_S:
        return cached[1]
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            found = current_switches(conn)
    else:
        found = current_switches(bind)
    with _lock:
        _cache[key] = (time.monotonic(), found)
    return found


def capability_mode(bind: Engine | Connection, settings: Settings, name: str) -> CapabilityMode:
    """The mode of capability ``name`` now (read at most ``CACHE_S`` seconds ago)."""
    _known(name)
    return effective(settings, name, _switches(bind).get(name))


def prediction_mode(bind: Engine | Connection, settings: Settings) -> CapabilityMode:
    """The prediction capability's mode now."""
    return capability_mode(bind, settings, PREDICTION)


def all_modes(bind: Engine | Connection, settings: Settings) -> list[CapabilityMode]:
    """Every capability's mode now."""
    found = _switches(bind)
    return [effective(settings, name, found.get(name)) for name in CAPABILITIES]


def switch_mode(
    conn: Connection, name: str, mode: str, *, changed_by: str, reason: str | None
) -> Switch:
    """Switch ``name`` to ``mode`` (in ``conn``'s transaction); refused input changes nothing."""
    _known(name)
    if mode not in MODES:
        raise InvalidMode(f"mode {mode!r}: use one of {', '.join(MODES)}")
    switch = Switch(name, mode, datetime.now(UTC), changed_by, reason or None)
    record_switch(conn, switch)
    forget()
    return switch


def forget() -> None:
    """Drop the cached switches: the next read goes to the database."""
    with _lock:
        _cache.clear()


def _known(name: str) -> None:
    if name not in CAPABILITIES:
        raise UnknownCapability(f"no capability {name!r}: known are {', '.join(CAPABILITIES)}")
