"""What the scheduled passes tell while the points arrive, against what the last pass tells.

``anomaly evaluate`` judges each series whole: a shift or drift is judged on
up to ``classify_after`` points after its alarm, and its kind again
``kind_after`` points after it. The worker's pass (``recording.
detect_and_record``) sees only the points so far, so it may tell a change that
later points take back: a series that rose for a dozen runs and came back,
or a change whose kind is judged again. This replays every series of the
configured database (or every ``--stride``-th) pass by pass, each pass seeing
``--every`` more points, and applies to what each pass finds
(``findings.findings``) the recorder's own rules (``recording.followed``,
``recording._returned``, ``recording._going_on``), each pass holding the
shifts and drifts the one before left going on, or still found once over by
their age (``tuning.hold_bars``), as the recorder's open and ``held`` ones
are held. Per metric it counts:

- **told live**: the anomalies some pass recorded as going on (one per kind
  and start), shifts, drifts and stops (lasting changes) apart from spikes
  and failure bursts;
- of the spikes and bursts, those the last pass tells too (at the same point);
- of the lasting changes: **kept**, told by the last pass (the whole series)
  at the same alarm and of the same kind; **relabelled**, there but of the
  other kind; **re-dated**, told by the last pass within a third of a window
  of it, the same way; **withdrawn**, not told by the last pass at all;
- **alerts fired**: how often an alert of an anomaly rule would open: an
  alert key (``telemetry.alerts.alert_key`` of ``activity.anomaly_problem``)
  active after a pass where it was not; and of those, how many opened again
  within ``AGAIN`` passes of the last pass its key was active in (a verdict
  that comes and goes as the points arrive: the alert resolves and fires
  again); the same for a rule at ``min_severity: warning``, whose alerts
  are the ones the default routes send somewhere (info goes to the
  dashboard only).

``--no-hold``: each pass judges afresh, as the recorder did before it held
its open shifts and drifts. ``--last N``: only the passes over each series'
last N points (the first sees all the points before them): a history of
long series, such as travis's, replayed in full takes hours. What the
last pass tells is still judged on the whole series.

    CONTROLTOWER_DATABASE_URL=sqlite:///PATH python -m benchmarks.live_replay \\
        [--every 1] [--stride 1] [--no-hold] [--last N]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime

from benchmarks.stored_series import stored_series
from controltower.anomaly.findings import Finding, findings
from controltower.anomaly.model import Series, Told
from controltower.anomaly.recording import _going_on, _returned, _row, followed
from controltower.anomaly.tuning import WEEKLY_WINDOW, Tuning, for_series
from controltower.store.anomalies import StoredAnomaly
from controltower.telemetry.activity import Problem, anomaly_problem
from controltower.telemetry.alerts import alert_key

LASTING = ("level_shift", "drift")
AGAIN = 10  # passes: an alert opened again this soon after its condition was last seen flickers
AGAIN_COLUMN = f"of which again within {AGAIN} passes"
LOUD_COLUMN = "alerts fired at warning or above"
LOUD_AGAIN_COLUMN = f"of those again within {AGAIN} passes"
COLUMNS = (
    "series",
    "passes",
    "spikes told live",
    "spikes kept",
    "bursts told live",
    "bursts kept",
    "changes told live",
    "kept",
    "relabelled",
    "re-dated",
    "withdrawn",
    "changes told by the last pass",
    "alerts fired",
    AGAIN_COLUMN,
    LOUD_COLUMN,
    LOUD_AGAIN_COLUMN,
)


def _problem(f: Finding) -> Problem:
    """The problem an anomaly rule sees for ``f``: the row the recorder would keep
    (``recording._row``), as the store gives it back, made a problem as the product makes it."""
    seen = f.anomaly.timestamp
    stored = StoredAnomaly(id=0, **_row(f), first_seen_at=seen, last_seen_at=seen, resolved_at=None)
    return anomaly_problem(stored)


class _Alerts:
    """The alerts one rule keeps open pass by pass: how many it opens, and how many of those
    open again within ``AGAIN`` passes of the last pass their key was active in. An open alert
    whose problem the rule no longer matches for its severity alone stays open
    (``telemetry.alerts.evaluate``)."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.last_seen: dict[str, int] = {}
        self.fired = 0
        self.again = 0

    def after_pass(self, n: int, matched: set[str], present: set[str]) -> None:
        """``matched``: the keys of the problems the rule matches after pass ``n``;
        ``present``: of every problem, whatever its severity."""
        keys = matched | (self.active & present)
        opened = keys - self.active
        self.fired += len(opened)
        self.again += sum(n - self.last_seen.get(key, -AGAIN - 1) <= AGAIN for key in opened)
        self.last_seen.update(dict.fromkeys(keys, n))
        self.active = keys


def _going_on_now(found: list[Finding], s: Series, tuning: Tuning) -> list[Finding]:
    """The findings the recorder would record as going on after a pass over ``s``."""
    if not followed(s, s.points[-1].timestamp.date()):
        return []
    over = _returned(found)
    judged = len(s.points)
    return [f for i, f in enumerate(found) if i not in over and _going_on(f, judged, tuning)]


def _held(found: list[Finding]) -> dict[tuple[str, str], set[Told]]:
    """The shifts and drifts of ``found`` as the next pass's ``told``, per series and metric."""
    held: dict[tuple[str, str], set[Told]] = {}
    for f in found:
        if f.anomaly.kind in LASTING:
            held.setdefault((f.series, f.metric), set()).add(f.anomaly.told)
    return held


def _aged(
    found: list[Finding], now: list[Finding], told: dict[tuple[str, datetime], Finding]
) -> list[Finding]:
    """The shifts and drifts of a pass that are over by their age alone and were told while
    going on (recorded): the recorder marks them held (``store.anomalies.record``'s ``aged``)."""
    over = _returned(found)
    return [
        f
        for i, f in enumerate(found)
        if f.anomaly.kind in LASTING
        and i not in over
        and f not in now
        and (f.anomaly.kind, f.anomaly.start) in told
    ]


def replay(
    s: Series, base: Tuning, every: int, first: int, hold: bool = True, tail: int | None = None
) -> Counter[str]:
    """Pass by pass over ``s``, each pass seeing ``every`` more points from ``first`` on, or
    over its last ``tail`` points only (``hold``: holding what the pass before left going on)."""
    tuning = for_series(base, s.days_per_point, s.metric)
    near = max(1, tuning.window // 3)
    told: dict[tuple[str, datetime], Finding] = {}
    every_rule, loud_rule = _Alerts(), _Alerts()
    result: Counter[str] = Counter()
    start = min(first, 2 * WEEKLY_WINDOW) if s.days_per_point == 7 else first
    if tail is not None:
        start = max(start, len(s.points) - tail)
    ends = list(range(min(start, len(s.points)), len(s.points) + 1, every))
    if ends and ends[-1] != len(s.points):
        ends.append(len(s.points))
    held: dict[tuple[str, str], set[Told]] = {}
    for n, end in enumerate(ends):
        prefix = replace(s, points=s.points[:end])
        found = findings([prefix], base, told=held)
        now = _going_on_now(found, prefix, tuning)
        for f in now:
            told.setdefault((f.anomaly.kind, f.anomaly.start), f)
        # what the recorder leaves open or held: the next pass holds it (``tuning.hold_bars``)
        held = _held([*now, *_aged(found, now, told)]) if hold else {}
        problems = [_problem(f) for f in now]
        present = {alert_key(p) for p in problems}
        every_rule.after_pass(n, present, present)
        loud_rule.after_pass(n, {alert_key(p) for p in problems if p.severity != "info"}, present)
        result["passes"] += 1
    result["alerts fired"] += every_rule.fired
    result[AGAIN_COLUMN] += every_rule.again
    result[LOUD_COLUMN] += loud_rule.fired
    result[LOUD_AGAIN_COLUMN] += loud_rule.again
    last = [f.anomaly for f in findings([s], base)]
    at_alarm = {(a.index, a.kind) for a in last}
    alarms = {a.index for a in last if a.kind in LASTING}
    result["series"] += 1
    result["changes told by the last pass"] += len(alarms)
    for (kind, _), f in told.items():
        a = f.anomaly
        if kind in ("spike", "failure_burst"):
            what = "spikes" if kind == "spike" else "bursts"
            result[f"{what} told live"] += 1
            result[f"{what} kept"] += (a.index, kind) in at_alarm
            continue
        result["changes told live"] += 1
        if (a.index, kind) in at_alarm:
            result["kept"] += 1
        elif a.index in alarms:
            result["relabelled"] += 1
        elif any(
            b.kind in LASTING and abs(b.index - a.index) <= near and b.change * a.change > 0
            for b in last
        ):
            result["re-dated"] += 1
        else:
            result["withdrawn"] += 1
    return result


def positive(text: str) -> int:
    """A whole number of at least 1, for the options that count points, passes or series."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def main() -> None:
    """Print a table of what the passes told, per metric and in all."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--every", type=positive, default=1, help="points each pass adds")
    parser.add_argument("--stride", type=positive, default=1, help="replay every n-th series")
    parser.add_argument(
        "--first", type=positive, default=60, help="points the first pass sees (fewer: none judged)"
    )
    parser.add_argument(
        "--no-hold", action="store_true", help="each pass judges afresh, holding nothing"
    )
    parser.add_argument(
        "--last", type=positive, default=None, help="replay only the passes over the last n points"
    )
    args = parser.parse_args()
    series = stored_series()[:: args.stride]
    started = time.perf_counter()
    by_metric: dict[str, Counter[str]] = {}
    for s in series:
        by_metric.setdefault(s.label, Counter()).update(
            replay(s, Tuning(), args.every, args.first, not args.no_hold, args.last)
        )
    total = sum(by_metric.values(), Counter[str]())
    print(
        f"{len(series)} series (every {args.stride}), a pass every {args.every} point(s),"
        f" {'nothing held' if args.no_hold else 'open shifts and drifts held'},"
        f" {'every point' if args.last is None else f'the last {args.last} points'} of each,"
        f" {time.perf_counter() - started:.0f} s\n"
    )
    print("| metric | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for label, r in [*sorted(by_metric.items()), ("all", total)]:
        print(f"| {label} | " + " | ".join(f"{r[c]:,}" for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
