"""Quantile regressors (p10, p50, p90) of a run's duration, as a correction of the median of five.

Duration is learned as the log-ratio to the median of the workflow's last
five successful runs (``base_dur_median5``), from the features plus the
other recent durations as log-ratios to that median, among them the median of
the last five of the same trigger event (``features.BY_EVENT``): scale-free,
so one tree serves workflows of seconds and of hours alike. The trees learn on the
fitting slice; on the later validation slice the correction is shrunk by the
factor (0 to 1.5) and cut by the dead zone (``GATES``: a correction smaller
than it is none, a larger one loses it) that together minimise the median
absolute percentage error. On a steady workflow the median of five is hard to
beat, and a correction of a few percent learnt from other workflows is mostly
noise there.

The 10-90% interval is the median of five's (``baselines.median_interval``):
the median scaled by the conformal bounds of the workflow's own recent
residuals (how its last successful runs compared with the median of five
before each), so it follows a workflow whose durations became steadier or
more variable without a new calibration; it always contains p50. A workflow
with too few residuals gets the quantile regressors' interval, widened
(split-conformal on the log-ratios) so that it covers 80% of the validation
runs.
"""

from __future__ import annotations

import math
from typing import Any, Self

import lightgbm as lgb
import numpy as np

from controltower.intelligence.baselines import median_interval
from controltower.intelligence.features import BY_EVENT, FEATURES, INDEX, inputs
from controltower.intelligence.models import Trees, dataset, load_booster, thread_count
from controltower.intelligence.predictors import Labelled, Matrix, Vector

QUANTILES = (0.1, 0.5, 0.9)
MIN_SECONDS = 1.0
# Fewer successful runs than this to learn from: the duration model predicts nothing.
MIN_RUNS = 20
# Recent durations given to the trees as log-ratios to the reference.
RATIOS = ("dur_prev", "dur_median20", "dur_wb_prev", "base_dur_prev")
NAMES = (*FEATURES, *(f"{name}_ratio" for name in RATIOS))
EVENT_NAMES = (*NAMES, *(f"{name}_ratio" for name in BY_EVENT))
SHRINKS = tuple(float(s) for s in np.linspace(0.0, 1.5, 31))
# Dead zones of the correction, in log-ratio (0.02: about 2 %), chosen with the shrink.
GATES = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08)
COVERAGE = 0.8


class DurationModel:
    """Quantile regressors of the log-ratio to the median of five, shrunk and widened.

    The log-ratio is ``log(max(d, floor) + offset) - log(reference + offset)``;
    a subclass (``job_duration.JobDurationModel``) gives its own reference,
    inputs and interval and keeps the learning, the shrink and dead zone and
    the widening.
    """

    name = "model"
    kind = "duration_model"
    floor, offset = MIN_SECONDS, 0.0

    def __init__(
        self,
        seed: int = 0,
        rounds: int | None = None,
        threads: int = 2,
        *,
        trees: Trees | None = None,
        ratios: bool = True,
        by_event: bool = True,
        shrink: bool = True,
        trailing: bool = True,
        gate: bool = True,
    ) -> None:
        self.trees = (trees or Trees()).with_rounds(rounds)
        self.seed, self.threads = seed, threads
        self.ratios, self.choose_shrink, self.trailing = ratios, shrink, trailing
        self.by_event = ratios and by_event
        self.choose_gate = gate
        self.boosters: list[lgb.Booster] = []
        self.fallback = 60.0
        self.shrink = 1.0
        self.gate = 0.0
        self.widen = 0.0

    def _reference(self, rows: Matrix) -> Vector:
        return self._known(rows[:, INDEX["base_dur_median5"]])

    def _known(self, reference: Vector) -> Vector:
        """``reference`` with the fallback where it is missing, at least ``floor``."""
        return np.maximum(np.where(np.isnan(reference), self.fallback, reference), self.floor)

    def _inputs(self, rows: Matrix) -> Matrix:
        if not self.ratios:
            return inputs(rows)
        ref = self._reference(rows)
        read = (*RATIOS, *BY_EVENT) if self.by_event else RATIOS
        extra = [np.log(np.maximum(rows[:, INDEX[n]], MIN_SECONDS) / ref) for n in read]
        return np.column_stack([inputs(rows), *extra])

    def _names(self) -> tuple[str, ...]:
        if not self.ratios:
            return FEATURES
        return EVENT_NAMES if self.by_event else NAMES

    @property
    def input_names(self) -> tuple[str, ...]:
        """The trees' inputs, in order: the columns of ``contributions``."""
        return self._names()

    def contributions(self, rows: Matrix) -> tuple[Vector, Matrix]:
        """The correction served (log-ratio of p50 to the reference), and each input's push on
        it (``input_names``): LightGBM's ``pred_contrib`` of the p50 regressor, against the
        trees' expected value (left out), so they say what moved a run away from the typical
        correction. A correction the dead zone drops is 0."""
        if not self.boosters:
            return np.zeros(len(rows)), np.zeros((len(rows), len(self._names())))
        raw = np.asarray(
            self.boosters[1].predict(self._inputs(rows), pred_contrib=True, num_threads=1)
        )
        served: Vector = _corrected(raw.sum(axis=1), self.shrink, self.gate)
        pushes: Matrix = raw[:, :-1]
        return served, pushes

    def _log_ratio(self, labelled: Labelled) -> Vector:
        seconds = np.maximum(labelled.targets, self.floor) + self.offset
        out: Vector = np.log(seconds) - np.log(self._reference(labelled.rows) + self.offset)
        return out

    def fit(self, fitting: Labelled, validation: Labelled) -> None:
        """Train the three quantiles; on validation, choose the shrink and the widening."""
        self.boosters, self.shrink, self.gate, self.widen = [], 1.0, 0.0, 0.0
        if len(fitting) < MIN_RUNS:
            return
        self.fallback = float(np.median(np.maximum(fitting.targets, self.floor)))
        names = self._names()
        data = dataset(self._inputs(fitting.rows), self._log_ratio(fitting), names)
        self.boosters = [
            lgb.train(
                self.trees.params(
                    self.seed,
                    thread_count(self.threads, len(fitting)),
                    objective="quantile",
                    alpha=q,
                ),
                data,
                self.trees.rounds,
            )
            for q in QUANTILES
        ]
        if len(validation):
            self._calibrate(validation)

    def _calibrate(self, validation: Labelled) -> None:
        actual = self._log_ratio(validation)
        if self.choose_shrink:
            mid = self._raw_quantiles(validation.rows)[1]
            gates = GATES if self.choose_gate else (0.0,)
            choices = [(g, s) for g in gates for s in SHRINKS]
            errors = [
                float(np.median(np.abs(np.expm1(_corrected(mid, s, g) - actual))))
                for g, s in choices
            ]
            self.gate, self.shrink = choices[int(np.argmin(errors))]
        low, _, high = self._log_quantiles(validation.rows)
        score = np.maximum(low - actual, actual - high)
        level = min(1.0, math.ceil(COVERAGE * (len(score) + 1)) / len(score))
        self.widen = float(np.quantile(score, level))

    def _raw_quantiles(self, rows: Matrix) -> list[Vector]:
        inputs = self._inputs(rows)
        return [np.asarray(b.predict(inputs, num_threads=1)) for b in self.boosters]

    def _log_quantiles(self, rows: Matrix) -> list[Vector]:
        if not self.boosters:  # too few runs to learn from: no prediction
            return [np.full(len(rows), np.nan)] * 3
        low, mid, high = self._raw_quantiles(rows)
        moved = _corrected(mid, self.shrink, self.gate) - mid  # the interval moves with p50
        return [low + moved, mid + moved, high + moved]

    def predict(self, rows: Matrix) -> Matrix:
        """Seconds at p10, p50 and p90 (the interval containing p50)."""
        low, mid, high = self._log_quantiles(rows)
        reference = self._reference(rows)
        stacked = np.column_stack(
            [np.minimum(low - self.widen, mid), mid, np.maximum(high + self.widen, mid)]
        )
        scaled = np.exp(stacked) * (reference[:, None] + self.offset) - self.offset
        out: Matrix = np.maximum(scaled, 0.0)
        if self.trailing:
            self._trailing_interval(rows, reference, out)
        return out

    def _trailing_interval(self, rows: Matrix, reference: Vector, out: Matrix) -> None:
        """Where the workflow has its own residual bounds, p10 and p90 around ``reference``."""
        median_interval(rows, reference, out)

    def settings(self) -> dict[str, Any]:
        """What was chosen on the validation slice: the shrink, the dead zone, the widening."""
        return {
            "kind": self.kind,
            "shrink": round(self.shrink, 4),
            "gate": self.gate,
            "widen": round(self.widen, 4),
        }

    def to_dict(self) -> dict[str, Any]:
        """The three boosters' model text, the shrink, the dead zone and the widening."""
        return {
            "kind": self.kind,
            "seed": self.seed,
            **self.trees.to_dict(),
            "boosters": [b.model_to_string() for b in self.boosters],
            "fallback": self.fallback,
            "ratios": self.ratios,
            "by_event": self.by_event,
            "shrink": self.shrink,
            "gate": self.gate,
            "widen": self.widen,
            "trailing": self.trailing,
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Self:
        """The model a ``to_dict`` came from (older versions: no ratios, same-event median,
        shrink, gate or trailing)."""
        model = cls(
            seed=saved["seed"],
            trees=Trees.from_dict(saved),
            ratios=bool(saved.get("ratios", False)),
            by_event=bool(saved.get("by_event", False)),
            trailing=bool(saved.get("trailing", False)),
        )
        model.boosters = [load_booster(text) for text in saved["boosters"]]
        model.fallback = float(saved["fallback"])
        model.shrink = float(saved.get("shrink", 1.0))
        model.gate = float(saved.get("gate", 0.0))
        model.widen = float(saved["widen"])
        return model


def _corrected(correction: Vector, shrink: float, gate: float) -> Vector:
    """The learned log-ratio correction, shrunk by ``shrink`` and cut by the dead zone ``gate``."""
    shrunk = shrink * correction
    out: Vector = np.sign(shrunk) * np.maximum(np.abs(shrunk) - gate, 0.0)
    return out
