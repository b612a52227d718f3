"""A cause outside the repository: the same change in several repositories at once.

When GitHub's hosted runners queue for an hour, or a CI provider's incident
slows every build, the queue times, durations and failures of many
repositories jump together, and the commit each one built then is not the
cause. An anomaly is told as *shared* when, within ``WINDOW`` of its start,
anomalies of the same metric, the same way, began in more other repositories
than chance explains: with ``n`` such anomalies in the other repositories over
the metric's whole span ``T``, about ``λ = n · 2 · WINDOW / T`` of them fall
near any moment by chance, and the count seen must be improbable under a
Poisson law of that mean (tail below ``ALPHA``). Across the 199 repositories
of travis-builds-2021 this holds for clusters of three to four repositories
within hours (a build slowdown on 2016-01-20 in four), not for the pairs that
chance makes there. Only changes an outside event makes at once are
compared: spikes, level shifts and failure bursts of per-run metrics.

Pure: no I/O.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from controltower.anomaly.model import Metric, Series

if TYPE_CHECKING:
    from controltower.anomaly.findings import Finding

WINDOW = timedelta(hours=3)
ALPHA = 0.01
METRICS: frozenset[Metric] = frozenset({"duration", "queue", "job_duration", "failures"})
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
    ``shared_repositories`` (how many), ``shared_within`` (``WINDOW``),
    ``shared_chance`` (the Poisson tail) and ``shared_since`` (the first start of the
    cluster of such changes it belongs to, the same for all of them).
    """
    spans: dict[str, tuple[datetime, datetime]] = {}
    for s in series:
        if s.metric in METRICS and s.points:
            first, last = s.points[0].timestamp, s.points[-1].timestamp
            known = spans.get(s.metric)
            spans[s.metric] = (
                (first, last) if known is None else (min(known[0], first), max(known[1], last))
            )
    groups: dict[tuple[str, bool], list[Finding]] = defaultdict(list)
    for f in found:
        if _compared(f):
            groups[f.metric, f.anomaly.change > 0].append(f)
    told: dict[int, dict[str, str]] = {}
    for (metric, _), group in groups.items():
        group.sort(key=lambda f: f.anomaly.start)
        starts = [f.anomaly.start for f in group]
        first, last = spans.get(metric, (starts[0], starts[-1]))
        hours = max((last - first) / timedelta(hours=1), 2 * WINDOW / timedelta(hours=1))
        since = _cluster_starts(starts)
        for i, f in enumerate(group):
            own = repository_of(f.series)
            near = group[
                bisect_left(starts, f.anomaly.start - WINDOW) : bisect_right(
                    starts, f.anomaly.start + WINDOW
                )
            ]
            others = sorted({repository_of(g.series) for g in near} - {own})
            if not others:
                continue
            elsewhere = sum(1 for g in group if repository_of(g.series) != own)
            mean = elsewhere * 2 * (WINDOW / timedelta(hours=1)) / hours
            chance = poisson_tail(len(others), mean)
            if chance < ALPHA:
                told[id(f)] = {
                    "shared_with": ", ".join(others[:NAMED]),
                    "shared_repositories": str(len(others)),
                    "shared_chance": f"{chance:.2g}",
                    "shared_within": f"{WINDOW / timedelta(hours=1):g} h",
                    "shared_since": since[i].isoformat(),
                }
    return [
        replace(f, trigger={**(f.trigger or {}), **told[id(f)]}) if id(f) in told else f
        for f in found
    ]


def _cluster_starts(starts: Sequence[datetime]) -> list[datetime]:
    """For each of the sorted ``starts``, the first start of its cluster: the run of starts
    each within ``WINDOW`` of the one before. The members of one cluster share it, so
    their alerts can travel as one message."""
    firsts: list[datetime] = []
    for i, start in enumerate(starts):
        chained = i > 0 and start - starts[i - 1] <= WINDOW
        firsts.append(firsts[-1] if chained else start)
    return firsts


def _compared(finding: Finding) -> bool:
    return (
        finding.metric in METRICS and finding.anomaly.kind in KINDS and finding.anomaly.change != 0
    )
