"""A cause outside the repository: the same change in several repositories at once.

When GitHub's hosted runners queue for an hour, or a CI provider's incident
slows every build, the queue times, durations and failures of many
repositories jump together, and the commit each one built then is not the
cause; when a provider changes its prices or its free plan, or a holiday
comes, their cost and runs fall together. An anomaly is told as *shared*
when, within a window of its start (``WINDOWS``: 3 hours for series of one
point per run, a day for daily totals, a week for weekly ones), anomalies of
the same series kind (metric, and daily or weekly), the same way, began in
more other repositories than chance explains: with ``n`` such anomalies in the
other repositories over the series kind's whole span ``T``, about
``λ = n · 2 · window / T`` of them fall near any moment by chance, and the
count seen must be improbable under a Poisson law of that mean (tail below
``ALPHA``). Across the 199 repositories of travis-builds-2021 this holds for
clusters of three or more repositories (build durations rising in four within
three hours on 2016-01-20; cost falling in seven in the week of 2020-06-29),
not for the pairs that chance makes there (``benchmarks/shared_causes.py``).
Only changes an outside event makes at once are compared: spikes, level shifts
(stops among them) and failure bursts, not drifts.

Pure: no I/O.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from controltower.anomaly.model import Series

if TYPE_CHECKING:
    from controltower.anomaly.findings import Finding

WINDOWS: dict[int | None, timedelta] = {
    None: timedelta(hours=3),  # one point per run
    1: timedelta(days=1),  # daily totals
    7: timedelta(days=7),  # weekly totals
}
WINDOW = WINDOWS[None]
ALPHA = 0.01
KINDS = frozenset({"spike", "level_shift", "failure_burst"})
NAMED = 3  # repositories named in the trigger; the rest are counted


def repository_of(series_name: str) -> str:
    """``owner/name`` of a series named ``owner/name · workflow[ · job]``."""
    return series_name.split(" · ", 1)[0]


def poisson_tail(at_least: int, mean: float) -> float:
    """The chance that a Poisson count of ``mean`` is ``at_least`` or more."""
    if at_least <= 0:
        return 1.0
    below = sum(math.exp(-mean) * mean**k / math.factorial(k) for k in range(at_least))
    return max(0.0, 1.0 - below)


def shared_causes(found: Sequence[Finding], series: Sequence[Series]) -> list[Finding]:
    """``found`` with the trigger of each anomaly shared with other repositories saying so.

    The trigger keeps what the series itself said (a commit, a new runner type)
    and gains ``shared_with`` (the other repositories, up to ``NAMED`` named),
    ``shared_repositories`` (how many), ``shared_within`` (the window, in words),
    ``shared_chance`` (the Poisson tail) and ``shared_since`` (the first start of the
    cluster of such changes it belongs to, the same for all of them).
    """
    per_point: dict[tuple[str, str], int | None] = {
        (s.name, s.metric): s.days_per_point for s in series
    }
    spans: dict[tuple[str, int | None], tuple[datetime, datetime]] = {}
    for s in series:
        if s.points:
            first, last = s.points[0].timestamp, s.points[-1].timestamp
            known = spans.get((s.metric, s.days_per_point))
            spans[s.metric, s.days_per_point] = (
                (first, last) if known is None else (min(known[0], first), max(known[1], last))
            )
    groups: dict[tuple[str, int | None, bool], list[Finding]] = defaultdict(list)
    for f in found:
        if f.anomaly.kind in KINDS and f.anomaly.change != 0:
            days = per_point.get((f.series, f.metric))
            groups[f.metric, days, f.anomaly.change > 0].append(f)
    told: dict[int, dict[str, str]] = {}
    for (metric, days, _), group in groups.items():
        window = WINDOWS.get(days, WINDOW)
        group.sort(key=lambda f: f.anomaly.start)
        starts = [f.anomaly.start for f in group]
        first, last = spans.get((metric, days), (starts[0], starts[-1]))
        turns = max((last - first) / window, 2.0)  # how many windows the span holds
        since = _cluster_starts(starts, window)
        per_repository = Counter(repository_of(f.series) for f in group)
        for i, f in enumerate(group):
            own = repository_of(f.series)
            near = group[
                bisect_left(starts, f.anomaly.start - window) : bisect_right(
                    starts, f.anomaly.start + window
                )
            ]
            others = sorted({repository_of(g.series) for g in near} - {own})
            if not others:
                continue
            elsewhere = len(group) - per_repository[own]
            chance = poisson_tail(len(others), elsewhere * 2 / turns)
            if chance < ALPHA:
                told[id(f)] = {
                    "shared_with": ", ".join(others[:NAMED]),
                    "shared_repositories": str(len(others)),
                    "shared_chance": f"{chance:.2g}",
                    "shared_within": _words(window),
                    "shared_since": since[i].isoformat(),
                }
    return [
        replace(f, trigger={**(f.trigger or {}), **told[id(f)]}) if id(f) in told else f
        for f in found
    ]


def _words(window: timedelta) -> str:
    if window >= timedelta(days=7):
        return "a week"
    if window >= timedelta(days=1):
        return "a day"
    return f"{window / timedelta(hours=1):g} h"


def _cluster_starts(starts: Sequence[datetime], window: timedelta) -> list[datetime]:
    """For each of the sorted ``starts``, the first start of its cluster: the run of starts
    each within ``window`` of the one before. The members of one cluster share it, so
    their alerts can travel as one message."""
    firsts: list[datetime] = []
    for i, start in enumerate(starts):
        chained = i > 0 and start - starts[i - 1] <= window
        firsts.append(firsts[-1] if chained else start)
    return firsts
