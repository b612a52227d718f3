"""The evaluation protocol of ``shared/spec/prediction-evaluation.md``, on any run history.

Per repository, runs in request order; the last 25% are the test set. The
models learn from runs of every repository that had completed before their
repository's first test run, the latest 20% of those (per repository) kept
as the validation slice for calibration. Every predictor, model and
baseline, is scored on the same test runs, pooled, as the unweighted mean
over repositories and per repository, in the JSON shape of
``shared/spec/interface.md``.

``validation_split`` moves the same split before the test period (the
validation slice is scored, the runs before it learn and calibrate), so that
settings are chosen without reading the test period.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from controltower.intelligence.baselines import (
    AlwaysPass,
    MedianOfFive,
    PreviousDuration,
    PreviousOutcome,
)
from controltower.intelligence.duration import DurationModel
from controltower.intelligence.features import Featurized, featurized
from controltower.intelligence.margins import (
    RESAMPLES,
    Weighted,
    duration_figures_under,
    margins,
    outcome_figures_under,
)
from controltower.intelligence.metrics import (
    DURATION_FIGURES,
    OUTCOME_FIGURES,
    Figures,
    duration_figures,
    mean_over,
    outcome_figures,
)
from controltower.intelligence.models import FailureModel
from controltower.intelligence.predictors import (
    DurationPredictor,
    Labelled,
    Matrix,
    OutcomePredictor,
)
from controltower.intelligence.records import (
    MAX_DURATION_S,
    HistoryRun,
    known_at,
    request_times,
)
from controltower.intelligence.selection import DURATION_BASELINES, OUTCOME_BASELINES

TEST_SHARE = 0.25
VALIDATION_SHARE = 0.20
Mask = npt.NDArray[np.bool_]


@dataclass(slots=True)
class Split:
    """Which rows (of runs in request order) the models learn from and are tested on."""

    repositories: list[str]
    repo_of: npt.NDArray[np.int64]
    test: Mask
    fitting: Mask
    validation: Mask
    failed: npt.NDArray[np.float64]  # 1.0 failed, 0.0 passed, NaN neither
    seconds: npt.NDArray[np.float64]  # successful runs' duration, NaN otherwise
    excluded: dict[str, int] = field(default_factory=dict)


def _spans(runs: Sequence[HistoryRun]) -> list[tuple[int, int]]:
    spans, start = [], 0
    while start < len(runs):
        end = start
        while end < len(runs) and runs[end].repository == runs[start].repository:
            end += 1
        spans.append((start, end))
        start = end
    return spans


def split(runs: Sequence[HistoryRun]) -> Split:
    """The protocol's split of ``runs`` (already in ``request_order``)."""
    n = len(runs)
    test, learn, validation = (np.zeros(n, dtype=bool) for _ in range(3))
    for start, end in _spans(runs):
        _split_repository(runs[start:end], start, test, learn, validation)
    return _split(runs, test, learn & ~validation, validation)


def validation_split(runs: Sequence[HistoryRun]) -> Split:
    """The protocol's split moved before the test period: its validation slice is scored.

    The runs of each repository's validation slice are the test runs; the
    models learn from that repository's earlier runs that had completed
    before the first of them, the latest 20% of those calibrating. Nothing
    of the test period is read.
    """
    outer = split(runs)
    n = len(runs)
    learn, validation = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for start, end in _spans(runs):
        held = np.flatnonzero(outer.validation[start:end])
        if len(held) == 0:
            continue
        times = request_times(runs[start:end])
        cutoff = times[held[0]]
        learnable = [
            start + i
            for i in range(held[0])
            if outer.fitting[start + i] and known_at(runs[start + i], times[i]) < cutoff
        ]
        _mark(learnable, learn, validation)
    return _split(runs, outer.validation, learn & ~validation, validation)


def _mark(learnable: list[int], learn: Mask, validation: Mask) -> None:
    learn[learnable] = True
    validation[learnable[len(learnable) - math.ceil(len(learnable) * VALIDATION_SHARE) :]] = True


def _split(runs: Sequence[HistoryRun], test: Mask, fitting: Mask, validation: Mask) -> Split:
    repositories = sorted({r.repository for r in runs})
    index = {name: i for i, name in enumerate(repositories)}
    repo_of = np.array([index[r.repository] for r in runs], dtype=np.int64)
    failed = np.array([np.nan if r.failed is None else float(r.failed) for r in runs])
    seconds = np.array([_seconds(r) for r in runs])
    tested = [r for r, t in zip(runs, test, strict=True) if t and r.conclusion == "success"]
    excluded = {
        "outcome_neither_failed_nor_passed": int((test & np.isnan(failed)).sum()),
        "duration_over_24h": sum(1 for r in tested if (r.duration_s or 0) > MAX_DURATION_S),
        "duration_unknown": sum(1 for r in tested if r.duration_s is None),
    }
    return Split(repositories, repo_of, test, fitting, validation, failed, seconds, excluded)


def _seconds(run: HistoryRun) -> float:
    value = run.success_duration
    return math.nan if value is None else value


def _split_repository(
    runs: Sequence[HistoryRun], offset: int, test: Mask, learn: Mask, validation: Mask
) -> None:
    n = len(runs)
    first_test = n - math.ceil(n * TEST_SHARE)
    times = request_times(runs)
    cutoff = times[first_test] if first_test < n else math.inf
    learnable = [i for i in range(first_test) if known_at(runs[i], times[i]) < cutoff]
    test[offset + first_test : offset + n] = True
    _mark([offset + i for i in learnable], learn, validation)


def outcome_predictors(seed: int, model: FailureModel | None = None) -> list[OutcomePredictor]:
    """The model (``model``, to be fitted by the evaluation, where given), then the baselines."""
    return [model or FailureModel(seed=seed), PreviousOutcome(), AlwaysPass()]


def duration_predictors(seed: int) -> list[DurationPredictor]:
    """The model, then the baselines."""
    return [DurationModel(seed=seed), PreviousDuration(), MedianOfFive()]


def evaluate(
    history: Sequence[HistoryRun] | Featurized,
    *,
    seed: int = 0,
    outcome: Callable[[int], list[OutcomePredictor]] = outcome_predictors,
    duration: Callable[[int], list[DurationPredictor]] = duration_predictors,
    on_validation: bool = False,
) -> dict[str, Any]:
    """The evaluation report of ``history`` (``shared/spec/interface.md``, ``model evaluate``).

    With ``on_validation``, scored on the validation slice (``validation_split``)
    instead of the test period, for choosing settings; the report then says so
    in ``scored_on``.
    """
    data = featurized(history)
    runs, rows = data.runs, data.rows
    parts = validation_split(runs) if on_validation else split(runs)
    report = score(rows, parts, outcome(seed), duration(seed), seed=seed)
    if on_validation:
        report["scored_on"] = "validation"
    return report


def score(
    rows: Matrix,
    parts: Split,
    outcome: list[OutcomePredictor],
    duration: list[DurationPredictor],
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> dict[str, Any]:
    """Fit the predictors on ``parts``' fitting and validation rows; score its test rows.

    ``margins`` (beside the spec's keys) gives, per section, way and figure
    compared, the model's difference from the better baseline with its 95%
    interval over ``resamples`` resamples of the scored runs
    (``intelligence.margins``; none with 0).
    """
    outcome_section, outcome_under = _outcome_section(rows, parts, outcome)
    duration_section, duration_under = _duration_section(rows, parts, duration)
    report: dict[str, Any] = {
        "outcome": outcome_section,
        "duration": duration_section,
        "test_runs": int(parts.test.sum()),
        "excluded": parts.excluded,
        "margins": {"outcome": {}, "duration": {}},
    }
    if resamples:
        for section, under, baselines in (
            ("outcome", outcome_under, OUTCOME_BASELINES),
            ("duration", duration_under, DURATION_BASELINES),
        ):
            figures, groups = under
            points = {way: report[section][way] for way in ("pooled", "mean_over_repositories")}
            report["margins"][section] = margins(
                figures, points, baselines, groups, seed=seed, resamples=resamples
            )
    return report


# Per predictor, its compared figures as functions of weights; and each scored run's repository.
Under = tuple[dict[str, dict[str, Weighted]], npt.NDArray[np.int64]]


def labelled_rows(rows: Matrix, targets: npt.NDArray[np.float64], mask: Mask) -> Labelled:
    """The rows of ``mask`` whose target is known, with their targets."""
    keep = mask & ~np.isnan(targets)
    return Labelled(rows[keep], targets[keep])


def _outcome_section(
    rows: Matrix, parts: Split, predictors: list[OutcomePredictor]
) -> tuple[Any, Under]:
    scored = parts.test & ~np.isnan(parts.failed)
    failed = parts.failed > 0.5
    results: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]] = {}
    for predictor in predictors:
        predictor.fit(
            labelled_rows(rows, parts.failed, parts.fitting),
            labelled_rows(rows, parts.failed, parts.validation),
        )
        test_rows = rows[scored]
        results[predictor.name] = (predictor.predict_proba(test_rows), predictor.predict(test_rows))

    def score(name: str, sub: Mask) -> Figures:
        probability, predicted = results[name]
        return outcome_figures(failed[scored][sub], probability[sub], predicted[sub])

    under = {
        name: outcome_figures_under(failed[scored], probability, predicted)
        for name, (probability, predicted) in results.items()
    }
    section = _three_ways(parts, scored, list(results), score, OUTCOME_FIGURES)
    return section, (under, parts.repo_of[scored])


def _duration_section(
    rows: Matrix, parts: Split, predictors: list[DurationPredictor]
) -> tuple[Any, Under]:
    scored = parts.test & ~np.isnan(parts.seconds)
    results: dict[str, Matrix] = {}
    for predictor in predictors:
        predictor.fit(
            labelled_rows(rows, parts.seconds, parts.fitting),
            labelled_rows(rows, parts.seconds, parts.validation),
        )
        results[predictor.name] = predictor.predict(rows[scored])

    def score(name: str, sub: Mask) -> Figures:
        return duration_figures(parts.seconds[scored][sub], results[name][sub])

    under = {
        name: duration_figures_under(parts.seconds[scored], predicted)
        for name, predicted in results.items()
    }
    section = _three_ways(parts, scored, list(results), score, DURATION_FIGURES)
    return section, (under, parts.repo_of[scored])


def _three_ways(
    parts: Split,
    scored: Mask,
    names: list[str],
    score: Callable[[str, Mask], Figures],
    figure_names: Sequence[str],
) -> dict[str, Any]:
    repo_of = parts.repo_of[scored]
    everything = np.ones(int(scored.sum()), dtype=bool)
    per_repository: dict[str, dict[str, Figures]] = {}
    for i, repository in enumerate(parts.repositories):
        sub = repo_of == i
        per_repository[repository] = {
            name: score(name, sub) if sub.any() else dict.fromkeys(figure_names) for name in names
        }
    return {
        "pooled": {name: score(name, everything) for name in names},
        "mean_over_repositories": {
            name: mean_over([per_repository[r][name] for r in per_repository], figure_names)
            for name in names
        },
        "per_repository": per_repository,
    }
