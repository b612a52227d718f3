"""The DORA four keys from deployments, pure.

How deployments are identified (``docs/telemetry.md`` says the same for users):

- From GitHub: each deployment to a production environment (GitHub's
  ``production_environment`` flag, or an environment named in the settings'
  production list) whose statuses include a final state. ``success`` makes it
  a successful deployment; ``failure`` or ``error`` a failed one; a
  deployment still pending or in progress is not counted yet.
- From workflows configured as deployments (for histories without deployment
  events): each completed run of such a workflow is a deployment, successful
  if the run passed and failed if it failed.

A *restoration* is the first successful deployment to the same environment
after a failed one; time to restore runs from the failure to it. Lead time
runs from the earliest known commit of the change (the pushes that brought
the deployed commit, or for workflow deployments the first CI run on the
commit) to the successful deployment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controltower.telemetry.metrics import percentile

HOUR, DAY, WEEK, MONTH = 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0


@dataclass(frozen=True, slots=True)
class DeploymentEvent:
    """One finished deployment: where, when, whether it worked, and when its change began."""

    repository: str
    environment: str
    finished_at: datetime
    succeeded: bool
    change_started_at: datetime | None


@dataclass(frozen=True, slots=True)
class Key:
    """One of the four keys: its value, its band, and how many deployments it could use."""

    value: float | None
    unit: str
    band: str | None
    covered: int
    eligible: int

    @property
    def coverage(self) -> float | None:
        """Share of eligible deployments for which the figure could be computed."""
        return self.covered / self.eligible if self.eligible else None


@dataclass(frozen=True, slots=True)
class Dora:
    """The four keys over a window."""

    deployments: int
    deployment_frequency: Key
    lead_time: Key
    change_failure_rate: Key
    time_to_restore: Key


def _band(value: float | None, limits: Sequence[tuple[float, str]], last: str) -> str | None:
    if value is None:
        return None
    return next((band for limit, band in limits if value <= limit), last)


def frequency_band(per_day: float | None) -> str | None:
    """Elite: several a day (on demand); high: daily to weekly; medium: to monthly; low: less."""
    if per_day is None:
        return None
    if per_day >= 1:
        return "elite"
    if per_day >= 1 / 7:
        return "high"
    if per_day >= 1 / 30:
        return "medium"
    return "low"


def dora(events: Sequence[DeploymentEvent], window_days: float) -> Dora:
    """Compute the four keys for the deployments that finished in a window of ``window_days``."""
    events = sorted(events, key=lambda e: e.finished_at)
    successes = [e for e in events if e.succeeded]
    per_day = len(successes) / window_days if window_days > 0 else None
    leads = [
        (e.finished_at - e.change_started_at).total_seconds()
        for e in successes
        if e.change_started_at is not None and e.change_started_at <= e.finished_at
    ]
    lead = percentile(leads, 50)
    failures = [e for e in events if not e.succeeded]
    cfr = len(failures) / len(events) if events else None
    restores = _restore_times(events)
    restore = percentile([r for r in restores if r is not None], 50)
    return Dora(
        deployments=len(events),
        deployment_frequency=Key(
            per_day if events else None,
            "per day",
            frequency_band(per_day) if events else None,
            len(successes),
            len(successes),
        ),
        lead_time=Key(
            lead,
            "seconds (median)",
            _band(lead, [(DAY, "elite"), (WEEK, "high"), (MONTH, "medium")], "low"),
            len(leads),
            len(successes),
        ),
        change_failure_rate=Key(
            cfr,
            "share",
            _band(cfr, [(0.05, "elite"), (0.10, "high"), (0.15, "medium")], "low"),
            len(events),
            len(events),
        ),
        time_to_restore=Key(
            restore,
            "seconds (median)",
            _band(restore, [(HOUR, "elite"), (DAY, "high"), (WEEK, "medium")], "low"),
            sum(r is not None for r in restores),
            len(restores),
        ),
    )


def _restore_times(events: Sequence[DeploymentEvent]) -> list[float | None]:
    """For each failure that starts an outage, seconds until the next success (None: not yet)."""
    by_env: dict[tuple[str, str], list[DeploymentEvent]] = defaultdict(list)
    for e in events:
        by_env[(e.repository, e.environment)].append(e)
    times: list[float | None] = []
    for items in by_env.values():
        broken_since: datetime | None = None
        for e in items:
            if not e.succeeded and broken_since is None:
                broken_since = e.finished_at
            elif e.succeeded and broken_since is not None:
                times.append((e.finished_at - broken_since).total_seconds())
                broken_since = None
        if broken_since is not None:
            times.append(None)
    return times


def window_days(start: datetime, end: datetime) -> float:
    """Length of a window in days."""
    return (end - start) / timedelta(days=1)
