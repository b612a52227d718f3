"""LightGBM settings shared by the predictors, and the calibrated failure classifier.

The classifier learns on the fitting slice with a fixed seed and
single-stream determinism, then uses the later validation slice for Platt
scaling of its scores and for the decision threshold that maximises F1;
with both settled, the trees learn again, with the same settings, from the
fitting and validation slices together, so the runs nearest to the ones
predicted are learnt from as well (chosen on the validation slices,
``docs/evaluation.md``). The
decision is "the previous run of the workflow and branch failed, or the
probability reaches the threshold": failures come in streaks, and the
threshold only has to add the failures a streak does not announce. The
duration model is in ``duration``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Self

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from controltower.errors import OneOutcome
from controltower.intelligence.features import CATEGORICAL, FEATURES, INDEX, inputs
from controltower.intelligence.predictors import Labelled, Matrix, Vector

THRESHOLDS = tuple(float(t) for t in np.linspace(0.05, 0.95, 91))
# Below this many rows a boosting round is too short to share between threads: the
# hand-offs cost more than they save, and far more beside another process's NumPy work,
# whose BLAS threads spin on the other core as OpenMP's do (benchmarks/training_threads.py).
PARALLEL_ROWS = 50_000


def thread_count(requested: int, rows: int) -> int:
    """The threads to train on ``rows`` rows: ``requested`` for large data, else one."""
    return requested if rows >= PARALLEL_ROWS else 1


@dataclass(frozen=True, slots=True)
class Trees:
    """LightGBM settings, chosen on the validation slices (``docs/evaluation.md``)."""

    rounds: int = 100
    leaves: int = 15
    min_leaf: int = 100

    def params(self, seed: int, threads: int, **extra: Any) -> dict[str, Any]:
        """The booster parameters, deterministic for ``seed``."""
        return {
            "learning_rate": 0.05,
            "num_leaves": self.leaves,
            "min_data_in_leaf": self.min_leaf,
            "max_bin": 63,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "seed": seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": threads,
            "verbose": -1,
            **extra,
        }

    def with_rounds(self, rounds: int | None) -> Trees:
        """These settings with ``rounds`` boosting rounds (unchanged with None)."""
        return self if rounds is None else replace(self, rounds=rounds)

    def to_dict(self) -> dict[str, int]:
        """The saved form."""
        return {"rounds": self.rounds, "leaves": self.leaves, "min_leaf": self.min_leaf}

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Trees:
        """Settings saved by ``to_dict``; versions saved before leaves were chosen had 31/40."""
        return cls(saved["rounds"], saved.get("leaves", 31), saved.get("min_leaf", 40))


def dataset(rows: Matrix, targets: Vector, names: tuple[str, ...] = FEATURES) -> lgb.Dataset:
    """A LightGBM dataset of feature rows (columns named ``names``) and their targets."""
    return lgb.Dataset(
        rows,
        targets,
        feature_name=list(names),
        categorical_feature=list(CATEGORICAL),
        free_raw_data=True,
    )


def load_booster(text: str) -> lgb.Booster:
    """The booster saved as ``text`` (``model_to_string``)."""
    return lgb.Booster(model_str=text)


def _previous_failed(rows: Matrix) -> npt.NDArray[np.bool_]:
    return np.nan_to_num(rows[:, INDEX["base_prev_failed"]], nan=0.0) >= 0.5


class FailureModel:
    """Gradient-boosted failure probability, Platt-calibrated, with an F1-optimal decision."""

    name = "model"
    kind = "failure_model"
    # The names of the columns ``model_inputs`` gives the booster.
    features: tuple[str, ...] = FEATURES
    # Whether "the previous run failed" joins the threshold in the decision unless told.
    streak_rule = True

    def __init__(
        self,
        seed: int = 0,
        rounds: int | None = None,
        threads: int = 2,
        *,
        trees: Trees | None = None,
        or_previous: bool | None = None,
        refit: bool = True,
    ) -> None:
        self.trees = (trees or Trees()).with_rounds(rounds)
        self.seed, self.threads = seed, threads
        self.or_previous = self.streak_rule if or_previous is None else or_previous
        self.refit = refit
        self.booster: lgb.Booster | None = None
        self.scale = (1.0, 0.0)
        self.threshold = 0.5

    def model_inputs(self, rows: Matrix) -> Matrix:
        """The columns of ``rows`` the booster reads (runs' rows carry more after them)."""
        return inputs(rows)

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        """Train on the fitting slice; calibrate and pick the threshold on validation; with
        ``refit``, train again on both slices, the calibration and threshold kept."""
        check = _calibration_slice(fitting, validation)
        self.booster = self._trained(fitting)
        raw = self._raw(check.rows)
        self.scale = _platt(raw, check.targets, self.seed)
        streak = _previous_failed(check.rows) & self.or_previous
        probability = self.predict_proba(check.rows)
        self.threshold = _best_threshold(probability, streak, check.targets > 0.5)
        if self.refit and len(validation):
            both = Labelled(
                np.vstack([fitting.rows, validation.rows]),
                np.concatenate([fitting.targets, validation.targets]),
            )
            self.booster = self._trained(both)

    def _trained(self, labelled: Labelled) -> lgb.Booster:
        threads = thread_count(self.threads, len(labelled))
        params = self.trees.params(self.seed, threads, objective="binary")
        data = dataset(self.model_inputs(labelled.rows), labelled.targets, self.features)
        return lgb.train(params, data, self.trees.rounds)

    def _raw(self, rows: Matrix) -> Vector:
        assert self.booster is not None, "fit or load the model first"
        return np.asarray(
            self.booster.predict(self.model_inputs(rows), raw_score=True, num_threads=1)
        )

    def predict_proba(self, rows: Matrix) -> Vector:
        """Calibrated probability of failure."""
        a, b = self.scale
        out: Vector = 1.0 / (1.0 + np.exp(-(a * self._raw(rows) + b)))
        return out

    def predict(self, rows: Matrix) -> npt.NDArray[np.bool_]:
        """Fails where the probability reaches the threshold or, if so set, the previous failed."""
        decided = self.predict_proba(rows) >= self.threshold
        if self.or_previous:
            decided |= _previous_failed(rows)
        return decided

    def contributions(self, rows: Matrix) -> Matrix:
        """Per-feature contributions to the calibrated log-odds of failure (last column: the
        expected value): LightGBM's ``pred_contrib`` through the Platt scaling, so they are
        what moved the probability served (none, where the slope is zero)."""
        assert self.booster is not None, "fit or load the model first"
        a, b = self.scale
        raw = np.asarray(
            self.booster.predict(self.model_inputs(rows), pred_contrib=True, num_threads=1)
        )
        out: Matrix = a * raw
        out[:, -1] += b
        return out

    def to_dict(self) -> dict[str, Any]:
        """The booster's model text, the calibration and the decision."""
        assert self.booster is not None, "fit or load the model first"
        return {
            "kind": self.kind,
            "seed": self.seed,
            **self.trees.to_dict(),
            "booster": self.booster.model_to_string(),
            "scale": list(self.scale),
            "threshold": self.threshold,
            "or_previous": self.or_previous,
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Self:
        """The model a ``to_dict`` came from (older versions decided by threshold alone)."""
        model = cls(
            seed=saved["seed"],
            trees=Trees.from_dict(saved),
            or_previous=bool(saved.get("or_previous", False)),
        )
        model.booster = load_booster(saved["booster"])
        a, b = saved["scale"]
        model.scale = (float(a), float(b))
        model.threshold = float(saved["threshold"])
        return model


def _outcomes(labelled: Labelled) -> int:
    return len(set(labelled.targets.tolist()))


def _calibration_slice(fitting: Labelled, validation: Labelled) -> Labelled:
    """The slice Platt scaling and the threshold learn on: validation where it holds both
    outcomes, else the fitting slice; ``OneOutcome`` where neither does."""
    for check in (validation, fitting):
        if _outcomes(check) == 2:
            return check
    both = np.concatenate([fitting.targets, validation.targets])
    if not len(both):
        return fitting  # nothing to learn from at all: the trees say so
    if len(set(both.tolist())) == 2:
        found = "neither the older runs nor the latest fifth hold both"
    else:
        found = f"all {len(both)} runs {'failed' if both.min() > 0.5 else 'passed'}"
    raise OneOutcome(f"the failure model needs both passed and failed runs to learn from ({found})")


def _platt(raw: Vector, targets: Vector, seed: int) -> tuple[float, float]:
    """Platt scaling of ``raw`` scores: (slope, intercept) of the logistic fit to ``targets``.

    A slope at or below zero (scores that ran against the outcomes of the
    calibration slice, or told nothing of them) is no signal to turn
    around: the trees learnt the other way, and after they learn again from
    that slice a reversed map would reverse what they learnt there too. The
    probability is then the slice's failure rate, whatever the score.
    """
    platt = LogisticRegression(C=1e6, random_state=seed)
    platt.fit(raw.reshape(-1, 1), targets.astype(int))
    slope = float(platt.coef_[0][0])
    if slope > 0.0:
        return slope, float(platt.intercept_[0])
    rate = min(max(float(np.mean(targets)), 1e-6), 1 - 1e-6)
    return 0.0, math.log(rate / (1 - rate))


def _best_threshold(
    probability: Vector, streak: npt.NDArray[np.bool_], failed: npt.NDArray[np.bool_]
) -> float:
    """The threshold whose decision (``streak`` or probability above it) has the best F1."""
    best, best_f1 = 0.5, -1.0
    for threshold in (*THRESHOLDS, 1.0):
        predicted = (probability >= threshold) | streak
        tp = float((predicted & failed).sum())
        denominator = tp + float(predicted.sum()) + float(failed.sum())
        f1 = 2 * tp / denominator if denominator else 0.0
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(threshold), f1
    return best
