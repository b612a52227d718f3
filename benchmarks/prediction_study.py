"""Prediction settings compared on the validation slice only, never on the test period.

For one dataset, every variant of the failure and duration models (and the
baselines) is fitted and scored on ``evaluation.validation_split``: each
repository's validation slice is scored, the runs before it learn and
calibrate. Prints one markdown table per target; ``docs/evaluation.md``
records the choice made from them.

    python -m benchmarks.prediction_study [--dataset NAME]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from benchmarks.prediction import load
from controltower.intelligence.baselines import (
    AlwaysPass,
    MedianOfFive,
    PreviousDuration,
    PreviousOutcome,
)
from controltower.intelligence.duration import DurationModel
from controltower.intelligence.evaluation import score, validation_split
from controltower.intelligence.features import featurize
from controltower.intelligence.models import FailureModel, Trees
from controltower.intelligence.records import request_order

BEFORE = Trees(rounds=200, leaves=31, min_leaf=40)
NOW = Trees()
FAILURE: dict[str, Callable[[], Any]] = {
    "200 rounds, 31 leaves, min 40; threshold": lambda: FailureModel(
        trees=BEFORE, or_previous=False
    ),
    "200/31/40; previous failed or threshold": lambda: FailureModel(trees=BEFORE),
    "100/15/100; threshold": lambda: FailureModel(trees=NOW, or_previous=False),
    "100/15/100; previous failed or threshold": lambda: FailureModel(trees=NOW),
}
DURATION: dict[str, Callable[[], Any]] = {
    "200 rounds, 31 leaves, min 40": lambda: DurationModel(
        trees=BEFORE, ratios=False, shrink=False
    ),
    "200/31/40; ratio features": lambda: DurationModel(trees=BEFORE, shrink=False),
    "100/15/100; ratio features": lambda: DurationModel(trees=NOW, shrink=False),
    "100/15/100; ratio features; shrink": lambda: DurationModel(trees=NOW),
}
OUTCOME_COLUMNS = ("f1", "auc", "precision", "recall")
DURATION_COLUMNS = ("mdape", "within_20", "coverage_80")


def _cell(section: dict[str, Any], name: str, figure: str) -> str:
    values = [section[way][name][figure] for way in ("pooled", "mean_over_repositories")]
    return " / ".join("–" if v is None else f"{v:.4f}" for v in values)


def _table(
    title: str, columns: tuple[str, ...], rows: list[tuple[str, dict[str, Any], str]]
) -> None:
    print(f"\n{title} (pooled / mean over repositories)\n")
    print("| variant | " + " | ".join(columns) + " | fit s |")
    print("|---" * (len(columns) + 2) + "|")
    for label, section, seconds in rows:
        name = "model" if "model" in section["pooled"] else next(iter(section["pooled"]))
        cells = " | ".join(_cell(section, name, c) for c in columns)
        print(f"| {label} | {cells} | {seconds} |")


def main() -> None:
    """Score every variant on the validation slice of one dataset."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="travis-builds-2021.jsonl.gz")
    args = parser.parse_args()
    runs = request_order(load(args.dataset))
    rows = featurize(runs)
    parts = validation_split(runs)
    print(f"{args.dataset}: {int(parts.test.sum())} validation runs scored")
    base = score(
        rows, parts, [PreviousOutcome(), AlwaysPass()], [MedianOfFive(), PreviousDuration()]
    )
    outcome = [("baseline previous", base["outcome"], "")]
    duration = [("baseline median5", base["duration"], "")]
    for label, make in FAILURE.items():
        start = time.perf_counter()
        section = score(rows, parts, [make()], [])["outcome"]
        outcome.append((label, section, f"{time.perf_counter() - start:.1f}"))
    for label, make in DURATION.items():
        start = time.perf_counter()
        section = score(rows, parts, [], [make()])["duration"]
        duration.append((label, section, f"{time.perf_counter() - start:.1f}"))
    _table("failure", OUTCOME_COLUMNS, outcome)
    _table("duration", DURATION_COLUMNS, duration)


if __name__ == "__main__":
    main()
