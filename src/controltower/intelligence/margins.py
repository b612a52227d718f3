"""How sure a verdict of the evaluation is: model against the better baseline, resampled.

A test period is one sample of runs; a model that "lost" by a hundredth of
F1 may have lost by chance. For each figure the model is compared with, the
runs scored are resampled (a Poisson bootstrap: each run weighted by a draw
of Poisson(1), which for thousands of runs is the ordinary bootstrap and
lets every resample be a matrix product) and the figure computed for the
model and for the baseline that was better on the test runs, on the same
weights: the difference is paired, so what both get right or wrong together
does not widen it. The interval is the 2.5th to 97.5th percentile of those
differences; where it leaves out zero, the verdict would very probably hold
on another sample of the same runs.

Only figures a predictor is judged on against another are resampled (the
interval's coverage is judged against its target band instead). Pure: no
I/O; the seed fixes the resamples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Weights = npt.NDArray[np.float32]
Index = npt.NDArray[np.intp]

RESAMPLES = 1000
LEVEL = 0.95
_CHUNK = 100  # resamples drawn at once: 100 x 50,000 runs is 20 MB of weights
LOWER_IS_BETTER = frozenset({"brier", "mdape"})


@dataclass(frozen=True, slots=True)
class Groups:
    """The runs' groups (repositories, or one for the pooled figures), numbered 0 to ``count``."""

    labels: npt.NDArray[np.int64]
    count: int

    @classmethod
    def of(cls, labels: npt.NDArray[np.int64]) -> Groups:
        _, numbered = np.unique(labels, return_inverse=True)
        return cls(numbered.astype(np.int64), int(numbered.max(initial=-1)) + 1)

    @classmethod
    def one(cls, n: int) -> Groups:
        return cls(np.zeros(n, dtype=np.int64), 1 if n else 0)

    def sorted_by(self, values: Vector) -> tuple[Index, Index]:
        """The runs in group order (by ``values`` within each), and where each group begins."""
        order = np.lexsort((values, self.labels))
        starts = np.searchsorted(self.labels[order], np.arange(self.count))
        return order, starts

    def sums(self, weights: Weights, values: Vector) -> Matrix:
        """Per row of weights, each group's weighted sum of ``values`` (one sparse product)."""
        if self.count == 1:
            return (weights @ values.astype(np.float32)).astype(np.float64)[:, None]
        n = len(self.labels)
        spread = sparse.csr_array(
            (values.astype(np.float32), (np.arange(n), self.labels)), shape=(n, self.count)
        )
        return np.asarray(weights @ spread, dtype=np.float64)


# A figure of one predictor, per row of weights over the runs and per group (B x groups).
Weighted = Callable[[Weights, Groups], Matrix]


def _ratio(num: Matrix, den: Matrix) -> Matrix:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def f1_under(failed: Mask, predicted: Mask) -> Weighted:
    """F1 (failure positive) under weights: twice the hits over their sum with the misses."""
    hit = (failed & predicted).astype(np.float64)
    wrong = (failed ^ predicted).astype(np.float64)

    def figure(weights: Weights, groups: Groups) -> Matrix:
        hits = groups.sums(weights, hit)
        return _ratio(2 * hits, 2 * hits + groups.sums(weights, wrong))

    return figure


def auc_under(failed: Mask, scores: Vector) -> Weighted:
    """ROC AUC under weights (ties count half), per group from one sort of group and score.

    Weights are whole numbers, so their sums in single precision are exact
    (up to 2**24 runs' worth); the products of those sums are not, which an
    interval of a few hundredths does not feel.
    """

    def figure(weights: Weights, groups: Groups) -> Matrix:
        order, _starts = groups.sorted_by(scores)
        label, ranked, positive = groups.labels[order], scores[order], failed[order]
        tied = np.r_[True, (np.diff(ranked) != 0) | (np.diff(label) != 0)]
        blocks = np.flatnonzero(tied)  # runs of one group with one score
        block_group = label[blocks]
        w = weights[:, order]
        every = np.add.reduceat(w, blocks, axis=1)
        pos = np.add.reduceat(w * positive, blocks, axis=1)
        neg = every - pos
        total_neg = np.cumsum(neg, axis=1)
        first = np.searchsorted(block_group, np.arange(groups.count))
        before = np.where(first > 0, total_neg[:, np.maximum(first - 1, 0)], 0.0)
        below = total_neg - neg - before[:, block_group]
        num = np.add.reduceat(pos * (below + 0.5 * neg), first, axis=1)
        den = np.add.reduceat(pos, first, axis=1) * np.add.reduceat(neg, first, axis=1)
        return _ratio(num, den)

    return figure


def mean_under(values: Vector) -> Weighted:
    """The weighted mean of a per-run value (Brier's squared error, an indicator's share)."""
    ones = np.ones_like(values)

    def figure(weights: Weights, groups: Groups) -> Matrix:
        return _ratio(groups.sums(weights, values), groups.sums(weights, ones))

    return figure


def median_under(values: Vector) -> Weighted:
    """The weighted median of a per-run value (the absolute percentage error's).

    The value where the weights sorted by it first reach half their sum: for
    an even count under equal weights, the lower of the two middle values.
    """

    def figure(weights: Weights, groups: Groups) -> Matrix:
        order, starts = groups.sorted_by(values)
        ranked, label = values[order], groups.labels[order]
        running = np.cumsum(weights[:, order], axis=1)
        before = np.where(starts > 0, running[:, np.maximum(starts - 1, 0)], 0.0)
        within = running - before[:, label]
        ends = np.r_[starts[1:], len(order)] - 1
        total = within[:, ends]
        reached = within >= total[:, label] / 2
        position = np.where(reached, np.arange(len(order)), len(order))
        at = np.minimum(np.minimum.reduceat(position, starts, axis=1), len(order) - 1)
        return np.where(total > 0, ranked[at], np.nan)

    return figure


def outcome_figures_under(
    failed: Mask, probability: Vector, predicted: Mask
) -> dict[str, Weighted]:
    """The outcome figures a model is compared on, as functions of weights."""
    return {
        "f1": f1_under(failed, predicted),
        "auc": auc_under(failed, probability),
        "brier": mean_under((probability - failed) ** 2),
    }


def duration_figures_under(actual: Vector, predicted: npt.NDArray[Any]) -> dict[str, Weighted]:
    """The duration figures a model is compared on (``predicted``: p10, p50, p90 per run)."""
    median = predicted[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.abs(median - actual) / np.maximum(actual, 1.0)
    error = np.where(np.isnan(median), 1.0, error)
    return {
        "mdape": median_under(error),
        "within_20": mean_under((error <= 0.2).astype(np.float64)),
        "within_50": mean_under((error <= 0.5).astype(np.float64)),
    }


def better_baseline(
    figure: str, values: Mapping[str, float | None], baselines: Sequence[str]
) -> str | None:
    """The baseline with the better value of ``figure`` (``None``: none has one)."""
    known = [(v, b) for b in baselines if (v := values.get(b)) is not None]
    if not known:
        return None
    pick = min if figure in LOWER_IS_BETTER else max
    return pick(known)[1]


def margins(
    figures: Mapping[str, Mapping[str, Weighted]],
    points: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    baselines: Sequence[str],
    groups: npt.NDArray[np.int64],
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per way (``pooled``, ``mean_over_repositories``) and figure, the model's margin:
    the better baseline (``against``), the model's figure minus its
    (``difference``) and the interval of that difference (``low``, ``high``).

    ``figures``: per predictor, each figure as a function of weights;
    ``points``: the report's figures per way and predictor (the better
    baseline is chosen on them, and the difference is theirs); ``groups``:
    each scored run's repository. A figure either side lacks is left out.
    """
    names = list(figures.get("model", {})) if len(groups) else []
    chosen = {
        way: {
            n: b
            for n in names
            if (b := better_baseline(n, {p: f.get(n) for p, f in points[way].items()}, baselines))
        }
        for way in points
    }
    drawn = _resampled(figures, chosen, groups, seed, resamples)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    tail = 100 * (1 - LEVEL) / 2
    for way, per_figure in chosen.items():
        out[way] = {}
        for name, against in per_figure.items():
            model, base = points[way]["model"].get(name), points[way][against].get(name)
            differences = drawn[way][name]
            finite = differences[np.isfinite(differences)]
            if model is None or base is None or finite.size == 0:
                continue
            low, high = np.percentile(finite, [tail, 100 - tail])
            out[way][name] = {
                "against": against,
                "difference": model - base,
                "low": float(low),
                "high": float(high),
            }
    return out


def _resampled(
    figures: Mapping[str, Mapping[str, Weighted]],
    chosen: Mapping[str, Mapping[str, str]],
    labels: npt.NDArray[np.int64],
    seed: int,
    resamples: int,
) -> dict[str, dict[str, Vector]]:
    """Per way and figure, the model's resampled differences from the baseline ``chosen``."""
    rng = np.random.default_rng(seed)
    ways = {"pooled": Groups.one(len(labels)), "mean_over_repositories": Groups.of(labels)}
    parts: dict[str, dict[str, list[Vector]]] = {
        way: {n: [] for n in chosen[way]} for way in chosen
    }
    for begin in range(0, resamples, _CHUNK):
        count = min(_CHUNK, resamples - begin)
        weights = _poisson_weights(rng, count, len(labels))
        for way, per_figure in chosen.items():
            for name, against in per_figure.items():
                model = figures["model"][name](weights, ways[way])
                base = figures[against][name](weights, ways[way])
                parts[way][name].append(_nan_mean(model) - _nan_mean(base))
    return {way: {n: np.concatenate(v) for n, v in per.items()} for way, per in parts.items()}


# P(X <= k) for X ~ Poisson(1), k = 0..11; beyond 11 the chance is below 1e-9.
_POISSON_CDF = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(12)])


def _poisson_weights(rng: np.random.Generator, rows: int, runs: int) -> Weights:
    """Poisson(1) draws as single-precision weights, by the inverse of its distribution."""
    uniform = rng.random((rows, runs), dtype=np.float32)
    return np.searchsorted(_POISSON_CDF, uniform).astype(np.float32)


def _nan_mean(per_group: Matrix) -> Vector:
    """Per row, the unweighted mean over the groups that have the figure (NaN: none has)."""
    known = np.isfinite(per_group)
    counts = known.sum(axis=1)
    total = np.where(known, per_group, 0.0).sum(axis=1)
    return np.where(counts > 0, total / np.maximum(counts, 1), math.nan)
