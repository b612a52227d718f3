"""Detection over the store, recorded: one pass finds every series' anomalies and keeps them.

An anomaly counts as going on while it is recent: its alarm within the last
``window`` points of its series (a spike only on the newest few points, a
shift or drift until its kind is settled, one point more), and its series
still followed: something happened in it within ``tuning.followed_days``
of the store's last complete day (a run, or a day with a total: 60 days,
half a year for weekly totals). So the stop of a workflow that never runs
again is going on for two months after its last run, and then over, as is
any anomaly of a workflow retired. A shift or drift that a later one of its
series went back from (a stop followed by a return, a slowdown by a
recovery) is over too. An anomaly no longer going on is resolved by the next
pass that does not see it. A shift or drift not resolved is held by the next
pass to lower bars than a new one (``tuning.hold_bars``): a change near a bar is
not told, taken back and told again as points arrive.
A pass over the ``history`` also records, as resolved, every anomaly of the
stored series that is over (after an import or a backfill: the charts then
mark the changes of the past, and people can review and label them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from controltower.anomaly.findings import Finding, findings
from controltower.anomaly.model import LASTING, Series, Severity
from controltower.anomaly.severity import CostBands, TimeBands
from controltower.anomaly.sources import load_series
from controltower.anomaly.totals import Rate, last_complete_day
from controltower.anomaly.tuning import Tuning, followed_days, for_series
from controltower.domain import WAIT_BETWEEN_JOBS_S
from controltower.store import anomalies
from controltower.store.engine import reading

SPIKE_RECENT = 3


def detect_and_record(
    engine: Engine,
    rate: Rate,
    tuning: Tuning | None = None,
    now: datetime | None = None,
    bands: CostBands | None = None,
    history: bool = False,
    times: TimeBands | None = None,
    wait_between_jobs_s: float | None = WAIT_BETWEEN_JOBS_S,
    spike_most: Severity = "warning",
) -> anomalies.RecordReport:
    """Run the detectors over every series in the store and record what is going on now.

    ``bands``: the dollars a cost anomaly must reach to be a warning or critical, ``times``
    the seconds a change of a duration or queue time must reach; ``wait_between_jobs_s``
    as in ``sources.load_series``; ``spike_most`` the highest severity of a spike;
    ``history``: record the anomalies that are over as well, as resolved.
    """
    tuning = tuning or Tuning()
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        series = load_series(reading(conn), rate=rate, wait_between_jobs_s=wait_between_jobs_s)
        through = last_complete_day(reading(conn))
        told = anomalies.open_changes(conn)
    judged: dict[tuple[str, str], tuple[int, Tuning]] = {
        (s.name, s.metric): (len(s.points), for_series(tuning, s.days_per_point, s.metric))
        for s in series
        if followed(s, through)
    }
    found = most_specific(findings(series, tuning, bands, times, told, spike_most))
    over = _returned(found)
    now_on = [i not in over and _current(f, judged) for i, f in enumerate(found)]
    current = [f for f, on in zip(found, now_on, strict=True) if on]
    past = [f for f, on in zip(found, now_on, strict=True) if history and not on]
    aged = [
        _row(f)
        for i, (f, on) in enumerate(zip(found, now_on, strict=True))
        if not on and i not in over and f.anomaly.kind in LASTING
    ]
    with engine.begin() as conn:
        return anomalies.record(
            conn, (_row(f) for f in current), now, (_row(f) for f in past), aged
        )


def followed(series: Series, through: date | None) -> bool:
    """Whether anything happened in ``series`` within ``followed_days`` of ``through`` (the
    store's last complete day; None: always): its last point, or for totals its last one
    above zero."""
    if through is None:
        return True
    active = [p for p in series.points if p.value != 0.0] if series.days_per_point else []
    last = (active or series.points)[-1].timestamp.date()
    return last >= through - timedelta(days=followed_days(series.days_per_point))


def most_specific(found: list[Finding]) -> list[Finding]:
    """``found`` without the repository's anomalies that one of its workflows tells too.

    The cost or runs of a repository built by one workflow are that workflow's, so a stop
    or a shift in them was found twice, at the repository and at the workflow, and raised
    two alerts for one fact. One of the same metric and kind, begun at the same time, is
    told once: at the workflow, which says more.
    """
    by_workflow = {
        (f.series.split(" · ", 1)[0], f.metric, f.anomaly.kind, f.anomaly.start)
        for f in found
        if " · " in f.series
    }
    return [
        f
        for f in found
        if " · " in f.series
        or (f.series, f.metric, f.anomaly.kind, f.anomaly.start) not in by_workflow
    ]


def _current(finding: Finding, judged: dict[tuple[str, str], tuple[int, Tuning]]) -> bool:
    known = judged.get((finding.series, finding.metric))
    return known is not None and _going_on(finding, *known)


def _returned(found: list[Finding]) -> set[int]:
    """The lasting changes (shifts and drifts) that a later one of their series went back from:
    a stop followed by a return, a slowdown by a recovery. Those are over, whatever their age;
    a later change the same way (a further step) leaves the first going on. (Their positions.)"""
    lasting: dict[tuple[str, str], list[int]] = {}
    for i, f in enumerate(found):
        if f.anomaly.kind in LASTING:
            lasting.setdefault((f.series, f.metric), []).append(i)
    over = set()
    for changes in lasting.values():
        changes.sort(key=lambda i: found[i].anomaly.index)
        for n, earlier in enumerate(changes):
            way = found[earlier].anomaly.change
            if any(found[later].anomaly.change * way < 0 for later in changes[n + 1 :]):
                over.add(earlier)
    return over


def _going_on(finding: Finding, length: int, tuning: Tuning) -> bool:
    """Whether ``finding`` is recent in a series of ``length`` points.

    A shift or drift stays going on for one point more than a window: its
    kind is judged again once the window after its alarm is over
    (``changes.detect_changes``), and the pass that sees that point records
    the settled kind (the same row, updated: ``store.anomalies.record``) before
    it ends. Over by its age, it is still held by the next pass (``held``).
    """
    kind = finding.anomaly.kind
    if kind == "spike":
        recent = SPIKE_RECENT
    elif kind in LASTING:
        recent = tuning.window + 1
    else:
        recent = tuning.window
    return finding.anomaly.index >= length - recent


def _row(finding: Finding) -> dict[str, Any]:
    a = finding.anomaly
    return {
        "series": finding.series,
        "metric": finding.metric,
        "unit": finding.unit,
        "kind": a.kind,
        "severity": a.severity,
        "started_at": a.start,
        "detected_at": a.timestamp,
        "expected": a.expected,
        "observed": a.observed,
        "score": a.score,
        "usd_per_month": finding.usd_per_month,
        "trigger": finding.trigger,
    }
