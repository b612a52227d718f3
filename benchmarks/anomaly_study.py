"""Detector settings compared with one seed of ``anomaly evaluate``, on the database's series.

The defaults were chosen with seed 1 and ``docs/evaluation.md`` reports seed 2
as well; this prints, for each variant of ``anomaly.tuning.Tuning``, the
figures ``anomaly evaluate`` gives with it, as one markdown table, with the level shifts,
drifts and bursts its series raise shuffled (no change or burst left in them: false alarms
by construction).

    CONTROLTOWER_DATABASE_URL=sqlite:///PATH python -m benchmarks.anomaly_study --seed 1

``--trials N`` injects N anomalies of each kind per series; ``--only TEXT``
evaluates only the variants whose label contains TEXT.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from benchmarks.stored_series import stored_series
from controltower.anomaly.evaluation import evaluate
from controltower.anomaly.scoring import Tally
from controltower.anomaly.tuning import Tuning

VARIANTS = {
    "defaults": Tuning(),
    "kind judged on 30 points after the alarm only (the default before)": Tuning(kind_after=0),
    "kind judged again on 45 points after the alarm": Tuning(kind_after=45),
    "kind judged again on 90 points after the alarm": Tuning(kind_after=90),
    "rhythm from the last points of each bucket (the default before)": Tuning(rhythm_by_turn=False),
    "spike followed by any point half its spreads out (the default before)": Tuning(
        follow_share=0.0
    ),
    "a shift told where a wobble before it crossed (the default before)": Tuning(
        wobble_restart=False
    ),
    "a window held after a crossing too small to tell (the default before)": Tuning(
        small_restart=False
    ),
    "a shift going on as a ramp told as a further change (the default before)": Tuning(
        further_ramp=False
    ),
    "no further-change watch": Tuning(further=False),
    "no watch after a further change (the default before)": Tuning(further_chain=False),
    "no second step among the settled points (the default before)": Tuning(
        further_second_step=False
    ),
    "further change against the 10 points after the alarm": Tuning(further_after=10),
    "further change against the 15 points after the alarm": Tuning(further_after=15),
    "further change against the 20 points after the alarm": Tuning(further_after=20),
    "drift evidence 8 points": Tuning(drift_evidence=8),
    "drift evidence 25 points": Tuning(drift_evidence=25),
    "shape smoothed over 9 points": Tuning(smooth=9),
    "shape smoothed over 15 points": Tuning(smooth=15),
    "no rank test of a change (the default before)": Tuning(rank_alpha=0.0),
    "change confirmed by rank at 1e-3": Tuning(rank_alpha=1e-3),
    "change confirmed by rank at 5e-2": Tuning(rank_alpha=5e-2),
    "burst tail 3e-3": Tuning(burst_alpha=3e-3),
    "burst tail 1e-2": Tuning(burst_alpha=1e-2),
    "burst rise 0.15": Tuning(burst_min_increase=0.15),
    "busy points of totals not judged apart (the default before)": Tuning(busy=False),
    "no stops": Tuning(stops=False),
    "stop chance 1e-2": Tuning(stop_alpha=1e-2),
    "stop chance 1e-4": Tuning(stop_alpha=1e-4),
}
KINDS = ("spike", "level_shift", "drift", "failure_burst")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _changes(kinds: dict[str, Counter[str]]) -> int:
    """The level shifts, drifts and bursts of the shuffled series: false by construction."""
    return sum(n for counts in kinds.values() for kind, n in counts.items() if kind != "spike")


def main() -> None:
    """Evaluate every variant on the same series and seed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trials", type=int, default=1, help="injections per kind and series")
    parser.add_argument("--only", default="", help="the variants whose label contains this")
    args = parser.parse_args()
    series = stored_series()
    print(f"{len(series)} series, seed {args.seed}, {args.trials} trial(s)\n")
    columns = (
        "recall",
        "found",
        *KINDS,
        "false alarm share",
        "stored alarms",
        "shuffled: shifts, drifts, bursts",
        "s",
    )
    print("| variant | " + " | ".join(columns) + " |")
    print("|---" + "|---:" * (len(columns)) + "|")
    for label, tuning in VARIANTS.items():
        if args.only not in label:
            continue
        start = time.perf_counter()
        result = evaluate(series, seed=args.seed, tuning=tuning, trials_per_series=args.trials)
        overall: Tally = result.overall
        kinds = " | ".join(_pct(result.by_kind[k].recall) for k in KINDS)
        print(
            f"| {label} | {_pct(overall.recall)} | {_pct(overall.found_share)} | {kinds} | "
            f"{_pct(overall.false_alarm_share)} | {sum(result.stored_alarms.values())} | "
            f"{_changes(result.shuffled_kinds)} | {time.perf_counter() - start:.0f} |"
        )


if __name__ == "__main__":
    main()
