"""LightGBM predictors: a calibrated failure classifier and quantile regressors for duration.

Both learn on the fitting slice with a fixed seed and single-stream
determinism, then use the later validation slice: the classifier for Platt
scaling of its scores and for the decision threshold that maximises F1; the
duration model for a conformal widening of its 10-90% interval so that it
covers 80% of validation runs. Duration is learned as the log-ratio to the
median of the workflow's last five successful runs, so the trees correct a
strong reference instead of rebuilding it.
"""

from __future__ import annotations

import math
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from controltower.intelligence.features import CATEGORICAL, FEATURES, INDEX
from controltower.intelligence.predictors import Labelled, Matrix, Vector

QUANTILES = (0.1, 0.5, 0.9)
MIN_SECONDS = 1.0
# Fewer successful runs than this to learn from: the duration model predicts nothing.
MIN_RUNS = 20


def _params(seed: int, threads: int, **extra: Any) -> dict[str, Any]:
    return {
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 40,
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


def _dataset(rows: Matrix, targets: Vector) -> lgb.Dataset:
    return lgb.Dataset(
        rows,
        targets,
        feature_name=list(FEATURES),
        categorical_feature=list(CATEGORICAL),
        free_raw_data=True,
    )


def _load(text: str) -> lgb.Booster:
    return lgb.Booster(model_str=text)


class FailureModel:
    """Gradient-boosted failure probability, Platt-calibrated, with an F1-optimal threshold."""

    name = "model"

    def __init__(self, seed: int = 0, rounds: int = 200, threads: int = 2) -> None:
        self.seed, self.rounds, self.threads = seed, rounds, threads
        self.booster: lgb.Booster | None = None
        self.scale = (1.0, 0.0)
        self.threshold = 0.5

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        """Train on the fitting slice; calibrate and pick the threshold on validation."""
        params = _params(self.seed, self.threads, objective="binary")
        self.booster = lgb.train(params, _dataset(fitting.rows, fitting.targets), self.rounds)
        check = validation if len(set(validation.targets.tolist())) == 2 else fitting
        raw = self._raw(check.rows)
        platt = LogisticRegression(C=1e6, random_state=self.seed)
        platt.fit(raw.reshape(-1, 1), check.targets.astype(int))
        self.scale = (float(platt.coef_[0][0]), float(platt.intercept_[0]))
        self.threshold = _best_threshold(self.predict_proba(check.rows), check.targets > 0.5)

    def _raw(self, rows: Matrix) -> Vector:
        assert self.booster is not None, "fit or load the model first"
        return np.asarray(self.booster.predict(rows, raw_score=True, num_threads=1))

    def predict_proba(self, rows: Matrix) -> Vector:
        """Calibrated probability of failure."""
        a, b = self.scale
        out: Vector = 1.0 / (1.0 + np.exp(-(a * self._raw(rows) + b)))
        return out

    def predict(self, rows: Matrix) -> npt.NDArray[np.bool_]:
        """Fails where the probability reaches the threshold."""
        return self.predict_proba(rows) >= self.threshold

    def contributions(self, rows: Matrix) -> Matrix:
        """Per-feature contributions to the raw score (last column: the expected value)."""
        assert self.booster is not None, "fit or load the model first"
        return np.asarray(self.booster.predict(rows, pred_contrib=True, num_threads=1))

    def to_dict(self) -> dict[str, Any]:
        """The booster's model text, the calibration and the threshold."""
        assert self.booster is not None, "fit or load the model first"
        return {
            "kind": "failure_model",
            "seed": self.seed,
            "rounds": self.rounds,
            "booster": self.booster.model_to_string(),
            "scale": list(self.scale),
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> FailureModel:
        """The model a ``to_dict`` came from."""
        model = cls(seed=saved["seed"], rounds=saved["rounds"])
        model.booster = _load(saved["booster"])
        a, b = saved["scale"]
        model.scale = (float(a), float(b))
        model.threshold = float(saved["threshold"])
        return model


def _best_threshold(probability: Vector, failed: npt.NDArray[np.bool_]) -> float:
    best, best_f1 = 0.5, -1.0
    for threshold in np.linspace(0.05, 0.95, 91):
        predicted = probability >= threshold
        tp = float((predicted & failed).sum())
        denominator = tp + float(predicted.sum()) + float(failed.sum())
        f1 = 2 * tp / denominator if denominator else 0.0
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(threshold), f1
    return best


class DurationModel:
    """Quantile regressors (p10, p50, p90) of the log-ratio to a reference duration."""

    name = "model"

    def __init__(self, seed: int = 0, rounds: int = 200, threads: int = 2) -> None:
        self.seed, self.rounds, self.threads = seed, rounds, threads
        self.boosters: list[lgb.Booster] = []
        self.fallback = 60.0
        self.widen = 0.0

    def _reference(self, rows: Matrix) -> Vector:
        ref = rows[:, INDEX["base_dur_median5"]]
        return np.maximum(np.where(np.isnan(ref), self.fallback, ref), MIN_SECONDS)

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        """Train the three quantiles; widen the interval to cover 80% of validation runs."""
        self.boosters, self.widen = [], 0.0
        if len(fitting) < MIN_RUNS:
            return
        seconds = np.maximum(fitting.targets, MIN_SECONDS)
        self.fallback = float(np.median(seconds))
        target = np.log(seconds) - np.log(self._reference(fitting.rows))
        self.boosters = [
            lgb.train(
                _params(self.seed, self.threads, objective="quantile", alpha=q),
                _dataset(fitting.rows, target),
                self.rounds,
            )
            for q in QUANTILES
        ]
        if len(validation):
            low, _, high = self._log_quantiles(validation.rows)
            actual = np.log(np.maximum(validation.targets, MIN_SECONDS)) - np.log(
                self._reference(validation.rows)
            )
            score = np.maximum(low - actual, actual - high)
            level = min(1.0, math.ceil(0.8 * (len(score) + 1)) / len(score))
            self.widen = float(np.quantile(score, level))

    def _log_quantiles(self, rows: Matrix) -> list[Vector]:
        if not self.boosters:  # too few runs to learn from: no prediction
            return [np.full(len(rows), np.nan)] * 3
        return [np.asarray(b.predict(rows, num_threads=1)) for b in self.boosters]

    def predict(self, rows: Matrix) -> Matrix:
        """Seconds at p10, p50 and p90 (the interval widened, the quantiles kept in order)."""
        low, mid, high = self._log_quantiles(rows)
        stacked = np.column_stack(
            [np.minimum(low - self.widen, mid), mid, np.maximum(high + self.widen, mid)]
        )
        out: Matrix = np.exp(stacked) * self._reference(rows)[:, None]
        return out

    def to_dict(self) -> dict[str, Any]:
        """The three boosters' model text and the interval widening."""
        return {
            "kind": "duration_model",
            "seed": self.seed,
            "rounds": self.rounds,
            "boosters": [b.model_to_string() for b in self.boosters],
            "fallback": self.fallback,
            "widen": self.widen,
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> DurationModel:
        """The model a ``to_dict`` came from."""
        model = cls(seed=saved["seed"], rounds=saved["rounds"])
        model.boosters = [_load(text) for text in saved["boosters"]]
        model.fallback = float(saved["fallback"])
        model.widen = float(saved["widen"])
        return model
