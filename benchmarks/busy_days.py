"""Rises on the busy days of real totals series that are idle on some days: told or not.

``anomaly evaluate`` injects a level shift by adding one amount to every
point from its place, idle days included, which turns each idle day into a
busy one. A workflow whose runs got dearer, or that runs more often on the
days it runs, changes its totals differently: its idle days stay at zero and
its busy days grow by a factor. This takes every cost and runs series of the
configured database (daily or weekly totals, as ``anomaly evaluate`` reads
them) that is often idle (``detection.often_idle``), multiplies its busy
points (above zero) by 1.3 to 2 from a random place (a window of history
before it, two windows of room after it, as ``anomaly evaluate`` places
anomalies; ``injection.busy_rise``, which ``anomaly evaluate`` uses for its
"busy-day rise" row), and counts the rises recalled: a level shift or drift
up raised from the place to a window after it (``evaluation.score_rise``).
This compares variants, with the shuffled series too. Every other alarm is
counted too, per thousand points, and, apart, the level shifts, drifts and
bursts raised on each series shuffled (no lasting change left: false by
construction). With the busy points judged apart (``Tuning.busy``, the
default, its rank test at the default tail and at 1e-2) and without.

    CONTROLTOWER_DATABASE_URL=sqlite:///PATH python -m benchmarks.busy_days [--seed 1] [--trials 5]
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.stored_series import stored_series
from controltower.anomaly.detection import active_length, detect, judged_series, often_idle
from controltower.anomaly.injection import busy_rise
from controltower.anomaly.model import Point, Series
from controltower.anomaly.scoring import score_rise
from controltower.anomaly.tuning import Tuning, for_series

VARIANTS = {
    "busy points judged apart (rank tail 1e-3)": Tuning(),
    "busy points judged apart, rank tail 1e-2": Tuning(busy_rank_alpha=1e-2),
    "not (the default before)": Tuning(busy=False),
}


def _eligible(s: Series) -> bool:
    if s.days_per_point is None or s.metric not in ("cost", "runs"):
        return False
    values = np.array([p.value for p in s.points], dtype=float)
    return judged_series(values) and often_idle(values)


def _shuffled_changes(s: Series, tuning: Tuning, rng: np.random.Generator) -> int:
    values = np.array([p.value for p in s.points], dtype=float)
    active = active_length(values)
    shuffled = np.concatenate([rng.permutation(values[:active]), values[active:]])
    points = [Point(p.timestamp, float(v)) for p, v in zip(s.points, shuffled, strict=True)]
    return sum(a.kind != "spike" and a.index < active for a in detect(points, tuning))


def main() -> None:
    """Print, per variant and label, the series, rises recalled and alarms elsewhere."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trials", type=int, default=5, help="rises per series")
    args = parser.parse_args()
    series = [s for s in stored_series() if _eligible(s)]
    print(f"{len(series)} series, seed {args.seed}, {args.trials} rise(s) each\n")
    print(
        "| variant | metric | series | rises | recalled | other alarms per 1,000 points "
        "| stored: shifts, drifts | shuffled: shifts, drifts |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, variant in VARIANTS.items():
        rng = np.random.default_rng(args.seed)
        order_rng = np.random.default_rng([args.seed, 2])
        rows: dict[str, list[int]] = {}
        for s in series:
            tuning = for_series(variant, s.days_per_point, s.metric)
            values = np.array([p.value for p in s.points], dtype=float)
            active = active_length(values)
            lo, hi = 2 * tuning.window, active - 2 * tuning.window
            row = rows.setdefault(s.label, [0] * 6)
            row[0] += 1
            row[5] += _shuffled_changes(s, tuning, order_rng)
            as_stored = detect(s.points, tuning)
            row[4] += sum(a.kind != "spike" for a in as_stored)
            if hi <= lo:
                continue
            for _ in range(args.trials):
                at = int(rng.integers(lo, hi))
                changed = busy_rise(values, at, rng)  # idle points stay zero
                stamps = (p.timestamp for p in s.points)
                points = [Point(t, float(v)) for t, v in zip(stamps, changed, strict=True)]
                tally = score_rise(at, detect(points, tuning), as_stored, tuning)
                row[1] += 1
                row[2] += tally.recalled
                row[3] += tally.false_alarms
        for metric, (n, rises, recalled, other, stored, shuffled) in sorted(rows.items()):
            points = sum(len(s.points) for s in series if s.label == metric) * args.trials
            share = f"{100 * recalled / rises:.1f} %" if rises else "–"
            per_1000 = f"{1000 * other / points:.2f}" if points else "–"
            print(
                f"| {label} | {metric} | {n} | {rises} | {share} | {per_1000} "
                f"| {stored} | {shuffled} |"
            )


if __name__ == "__main__":
    main()
