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
import math
import time
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from benchmarks.prediction import load
from controltower.intelligence.baselines import (
    AlwaysPass,
    MedianOfFive,
    PreviousDuration,
    PreviousOutcome,
)
from controltower.intelligence.duration import (
    COVERAGE,
    GATES,
    SHRINKS,
    DurationModel,
    _corrected,
)
from controltower.intelligence.evaluation import score, validation_split
from controltower.intelligence.features import INDEX, INTERVAL, featurize
from controltower.intelligence.models import THRESHOLDS, FailureModel, Trees, dataset, thread_count
from controltower.intelligence.predictors import Labelled, Matrix, Vector
from controltower.intelligence.records import request_order

Flags = npt.NDArray[np.bool_]


def _calibration(
    model: FailureModel, fitting: Labelled, validation: Labelled
) -> tuple[Vector, Flags, Flags]:
    """On the slice the model calibrates on: its probabilities, runs after a failure, failures."""
    check = validation if len(set(validation.targets.tolist())) == 2 else fitting
    after_failure = np.nan_to_num(check.rows[:, INDEX["base_prev_failed"]]) >= 0.5
    return model.predict_proba(check.rows), after_failure, check.targets > 0.5


def _f1(predicted: Flags, failed: Flags) -> float:
    tp = float((predicted & failed).sum())
    return 2 * tp / (tp + float(predicted.sum()) + float(failed.sum()) or 1.0)


class VetoedStreak(FailureModel):
    """Variant: after a failure, fail unless the probability is below a second threshold.

    Both thresholds are chosen together for the best F1 on the calibration
    slice; a veto of 0 is the adopted rule, a veto equal to the threshold is
    the threshold alone.
    """

    veto = 0.0

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        super().fit(fitting, validation)
        probability, after_failure, failed = _calibration(self, fitting, validation)
        best = -1.0
        for threshold in (*THRESHOLDS, 1.0):
            for veto in (0.0, *(t for t in THRESHOLDS if t <= threshold)):
                predicted = (probability >= threshold) | (after_failure & (probability >= veto))
                f1 = _f1(predicted, failed)
                if f1 > best + 1e-12:
                    best, self.threshold, self.veto = f1, threshold, veto

    def predict(self, rows: Matrix) -> npt.NDArray[np.bool_]:
        probability = self.predict_proba(rows)
        after_failure = np.nan_to_num(rows[:, INDEX["base_prev_failed"]]) >= 0.5
        decided: npt.NDArray[np.bool_] = (probability >= self.threshold) | (
            after_failure & (probability >= self.veto)
        )
        return decided


class HighestTiedThreshold(FailureModel):
    """Variant: of thresholds tied for the best F1 on the calibration slice, the highest (the
    adopted rule takes the lowest): a lower one flags runs the calibration slice did not ask for.
    """

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        super().fit(fitting, validation)
        probability, streak, failed = _calibration(self, fitting, validation)
        best = -1.0
        for threshold in (1.0, *reversed(THRESHOLDS)):
            f1 = _f1((probability >= threshold) | streak, failed)
            if f1 > best + 1e-12:
                best, self.threshold = f1, threshold


class SpreadScaledInterval(DurationModel):
    """Variant: the conformal widening scaled by the workflow's recent spread (``dur_spread20``).

    A period of more variable durations then gets wider intervals without a
    new calibration (normalized split-conformal).
    """

    floor = 0.05
    scaled_widen = 0.0

    def _spread(self, rows: Matrix) -> Vector:
        spread = rows[:, INDEX["dur_spread20"]]
        known = spread[np.isfinite(spread)]
        typical = float(np.median(known)) if known.size else 0.3
        out: Vector = np.maximum(np.where(np.isfinite(spread), spread, typical), self.floor)
        return out

    def _calibrate(self, validation: Labelled) -> None:
        super()._calibrate(validation)
        actual = self._log_ratio(validation)
        low, _, high = self._log_quantiles(validation.rows)
        scores = np.maximum(low - actual, actual - high) / self._spread(validation.rows)
        level = min(1.0, math.ceil(COVERAGE * (len(scores) + 1)) / len(scores))
        self.scaled_widen = float(np.quantile(scores, level))

    def predict(self, rows: Matrix) -> Matrix:
        low, mid, high = self._log_quantiles(rows)
        widen = self.scaled_widen * self._spread(rows)
        stacked = np.column_stack(
            [np.minimum(low - widen, mid), mid, np.maximum(high + widen, mid)]
        )
        out: Matrix = np.exp(stacked) * self._reference(rows)[:, None]
        return out


class TrailingAroundModel(DurationModel):
    """Variant: the trailing residual bounds around the model's p50, not the median of five."""

    def _trailing_interval(self, rows: Matrix, reference: Vector, out: Matrix) -> None:
        super()._trailing_interval(rows, out[:, 1].copy(), out)


class BoundInputs(DurationModel):
    """Variant: the trailing residual bounds given to the quantile regressors as inputs too."""

    def _names(self) -> tuple[str, ...]:
        return (*super()._names(), *INTERVAL)

    def _inputs(self, rows: Matrix) -> Matrix:
        bounds = [rows[:, INDEX[name]] for name in INTERVAL]
        return np.column_stack([super()._inputs(rows), *bounds])


class RefitDuration(DurationModel):
    """Variant: with the shrink and widening chosen, the regressors learn again from the fitting
    and validation slices together (as the failure model does)."""

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        super().fit(fitting, validation)
        if self.boosters and len(validation):
            shrink, widen = self.shrink, self.widen
            both = Labelled(
                np.vstack([fitting.rows, validation.rows]),
                np.concatenate([fitting.targets, validation.targets]),
            )
            super().fit(both, Labelled(both.rows[:0], both.targets[:0]))
            self.shrink, self.widen = shrink, widen


class SeedBagged(DurationModel):
    """Variant: the p50 correction the mean of ``seeds`` regressors learnt with other seeds
    (the shrink and dead zone then chosen on that mean)."""

    seeds = 5

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        self.extra: list[lgb.Booster] = []
        super().fit(fitting, Labelled(validation.rows[:0], validation.targets[:0]))
        if not self.boosters:
            return
        data = dataset(self._inputs(fitting.rows), self._log_ratio(fitting), self._names())
        threads = thread_count(self.threads, len(fitting))
        self.extra = [
            lgb.train(
                self.trees.params(self.seed + j, threads, objective="quantile", alpha=0.5),
                data,
                self.trees.rounds,
            )
            for j in range(1, self.seeds)
        ]
        if len(validation):
            self._calibrate(validation)

    def _raw_quantiles(self, rows: Matrix) -> list[Vector]:
        low, mid, high = super()._raw_quantiles(rows)
        inputs = self._inputs(rows)
        mids = [mid, *(np.asarray(b.predict(inputs, num_threads=1)) for b in self.extra)]
        return [low, np.mean(mids, axis=0), high]


class Shifted(DurationModel):
    """Variant: p50 also moved by a shift of half a percent either way, or none, chosen with the
    shrink and the dead zone for the lowest median absolute percentage error (durations run
    long more often than short: where the ratios are skewed, the duration most often within
    a few percent of the actual one lies a little below their median)."""

    shifts = (-0.005, 0.0, 0.005)
    shift = 0.0

    def _calibrate(self, validation: Labelled) -> None:
        actual = self._log_ratio(validation)
        mid = self._raw_quantiles(validation.rows)[1]
        choices = [(g, s, h) for g in GATES for s in SHRINKS for h in self.shifts]
        errors = [
            float(np.median(np.abs(np.expm1(_corrected(mid, s, g) + h - actual))))
            for g, s, h in choices
        ]
        self.gate, self.shrink, self.shift = choices[int(np.argmin(errors))]
        low, _, high = self._log_quantiles(validation.rows)
        scores = np.maximum(low - actual, actual - high)
        level = min(1.0, math.ceil(COVERAGE * (len(scores) + 1)) / len(scores))
        self.widen = float(np.quantile(scores, level))

    def _log_quantiles(self, rows: Matrix) -> list[Vector]:
        if not self.boosters:
            return [np.full(len(rows), np.nan)] * 3
        low, mid, high = self._raw_quantiles(rows)
        moved = _corrected(mid, self.shrink, self.gate) + self.shift - mid
        return [low + moved, mid + moved, high + moved]


BEFORE = Trees(rounds=200, leaves=31, min_leaf=40)
NOW = Trees()
FAILURE: dict[str, Callable[[], Any]] = {
    "200 rounds, 31 leaves, min 40; threshold": lambda: FailureModel(
        trees=BEFORE, or_previous=False, refit=False
    ),
    "200/31/40; previous failed or threshold": lambda: FailureModel(trees=BEFORE, refit=False),
    "100/15/100; threshold": lambda: FailureModel(trees=NOW, or_previous=False, refit=False),
    "100/15/100; previous failed or threshold": lambda: FailureModel(trees=NOW, refit=False),
    "100/15/100; previous failed unless vetoed, or threshold": lambda: VetoedStreak(
        trees=NOW, refit=False
    ),
    "100/15/100; previous failed or threshold, highest of tied thresholds": lambda: (
        HighestTiedThreshold(trees=NOW, refit=False)
    ),
    "100/15/100; previous failed or threshold; refit on both slices": lambda: FailureModel(
        trees=NOW
    ),
}
DURATION: dict[str, Callable[[], Any]] = {
    "200 rounds, 31 leaves, min 40": lambda: DurationModel(
        trees=BEFORE, ratios=False, shrink=False, trailing=False
    ),
    "200/31/40; ratio features": lambda: DurationModel(
        trees=BEFORE, by_event=False, shrink=False, trailing=False
    ),
    "100/15/100; ratio features": lambda: DurationModel(
        trees=NOW, by_event=False, shrink=False, trailing=False
    ),
    "100/15/100; ratio features; shrink": lambda: DurationModel(
        trees=NOW, by_event=False, trailing=False, gate=False
    ),
    "100/15/100; ratio features; shrink; interval by recent spread": lambda: SpreadScaledInterval(
        trees=NOW, by_event=False, trailing=False, gate=False
    ),
    "100/15/100; ratio features; shrink; trailing interval": lambda: DurationModel(
        trees=NOW, by_event=False, gate=False
    ),
    "100/15/100; ratio features; shrink; trailing interval around p50": lambda: TrailingAroundModel(
        trees=NOW, by_event=False, gate=False
    ),
    "100/15/100; ratio and residual-bound features; shrink; trailing interval": lambda: BoundInputs(
        trees=NOW, by_event=False, gate=False
    ),
    "100/15/100; ratio features; shrink; trailing interval; refit on both slices": lambda: (
        RefitDuration(trees=NOW, by_event=False, gate=False)
    ),
    "100/15/100; ratio features; shrink and dead zone; trailing interval": lambda: DurationModel(
        trees=NOW, by_event=False
    ),
    "100/15/100; ratio and same-event features; shrink and dead zone; trailing interval": lambda: (
        DurationModel(trees=NOW)
    ),
    "as adopted, 200 rounds": lambda: DurationModel(trees=Trees(rounds=200)),
    "as adopted, 200 rounds, 40 per leaf": lambda: DurationModel(
        trees=Trees(rounds=200, min_leaf=40)
    ),
    "as adopted, p50 of 5 seeds": lambda: SeedBagged(trees=NOW),
    "as adopted, p50 shifted by half a percent or not": lambda: Shifted(trees=NOW),
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
        rows,
        parts,
        [PreviousOutcome(), AlwaysPass()],
        [MedianOfFive(), PreviousDuration()],
        resamples=0,
    )
    outcome = [("baseline previous", base["outcome"], "")]
    duration = [("baseline median5", base["duration"], "")]
    for label, make in FAILURE.items():
        start = time.perf_counter()
        section = score(rows, parts, [make()], [], resamples=0)["outcome"]
        outcome.append((label, section, f"{time.perf_counter() - start:.1f}"))
    for label, make in DURATION.items():
        start = time.perf_counter()
        section = score(rows, parts, [], [make()], resamples=0)["duration"]
        duration.append((label, section, f"{time.perf_counter() - start:.1f}"))
    _table("failure", OUTCOME_COLUMNS, outcome)
    _table("duration", DURATION_COLUMNS, duration)


if __name__ == "__main__":
    main()
