"""The failure decision and the duration correction, as chosen on the validation slice."""

from __future__ import annotations

import numpy as np
import pytest

from controltower.errors import OneOutcome
from controltower.intelligence.duration import DurationModel
from controltower.intelligence.features import COLUMNS, INDEX
from controltower.intelligence.models import PARALLEL_ROWS, FailureModel, Trees, _best_threshold
from controltower.intelligence.predictors import Labelled, Matrix
from controltower.intelligence.reasons import duration_words

SMALL = Trees(rounds=100, leaves=7, min_leaf=10)


def _rows(n: int, seed: int) -> Matrix:
    rng = np.random.default_rng(seed)
    rows = np.full((n, len(COLUMNS)), np.nan)
    rows[:, INDEX["files_changed"]] = rng.integers(0, 2, n)
    rows[:, INDEX["base_prev_failed"]] = rng.integers(0, 2, n)
    rows[:, INDEX["base_dur_median5"]] = 100.0
    return rows


def _failures(rows: Matrix, seed: int) -> Labelled:
    rng = np.random.default_rng(seed)
    chance = 0.1 + 0.5 * rows[:, INDEX["files_changed"]]
    return Labelled(rows, (rng.random(len(rows)) < chance).astype(float))


def test_a_streak_that_finds_every_failure_alone_needs_no_threshold() -> None:
    """When the previous failure alone gives the best F1, the threshold adds no failure."""
    failed = np.array([True, True, False, False, False, False])
    streak = failed.copy()
    probability = np.array([0.2, 0.3, 0.9, 0.8, 0.1, 0.1])
    threshold = _best_threshold(probability, streak, failed)
    assert not (probability >= threshold).any()
    alone = _best_threshold(probability, np.zeros(6, dtype=bool), failed)
    assert ((probability >= alone) == np.array([True, True, True, True, False, False])).all()


def test_failure_is_predicted_wherever_the_previous_run_failed() -> None:
    """With the streak rule every run after a failure is predicted to fail; without it, not."""
    fitting, validation = _failures(_rows(600, 1), 2), _failures(_rows(300, 3), 4)
    rows = _rows(200, 5)
    prev = rows[:, INDEX["base_prev_failed"]] == 1.0
    streaks, alone = FailureModel(trees=SMALL), FailureModel(trees=SMALL, or_previous=False)
    streaks.fit(fitting, validation)
    alone.fit(fitting, validation)
    assert streaks.predict(rows)[prev].all()
    by_threshold = streaks.predict_proba(rows) >= streaks.threshold
    assert (streaks.predict(rows) == (by_threshold | prev)).all()
    assert (alone.predict(rows) == (alone.predict_proba(rows) >= alone.threshold)).all()


def _shifting(
    seed: int, fitting_chances: tuple[float, float], later: tuple[float, float]
) -> tuple[Labelled, Labelled]:
    """Failures with ``files_changed`` (chance without it, with it) in the fitting slice, and
    ``later`` in the validation slice."""
    rng = np.random.default_rng(seed)
    slices = []
    for chances, part in ((fitting_chances, 1), (later, 2)):
        rows = _rows(1500, part)
        chance = np.where(rows[:, INDEX["files_changed"]] == 1.0, chances[1], chances[0])
        slices.append(Labelled(rows, (rng.random(len(rows)) < chance).astype(float)))
    return slices[0], slices[1]


def _gap(model: FailureModel, rows: Matrix) -> float:
    """How much likelier to fail the model finds runs with a changed file than without."""
    probability = model.predict_proba(rows)
    changed = rows[:, INDEX["files_changed"]] == 1.0
    return float(probability[changed].mean() - probability[~changed].mean())


def test_the_trees_learn_again_from_the_validation_slice_once_it_has_calibrated() -> None:
    """A cause of failure that grew in the latest runs (the validation slice) counts for more
    with ``refit``: the trees also learn from those runs once calibration and threshold are set."""
    fitting, validation = _shifting(7, (0.2, 0.4), (0.1, 0.8))
    rows = _rows(200, 3)
    gaps = {}
    for refit in (True, False):
        model = FailureModel(trees=SMALL, refit=refit)
        model.fit(fitting, validation)
        gaps[refit] = _gap(model, rows)
    assert gaps[False] > 0.1
    assert gaps[True] > gaps[False] + 0.1


def test_scores_that_ran_against_the_latest_outcomes_are_not_turned_around() -> None:
    """Learnt "a changed file fails" and then the latest runs say the opposite: the Platt slope
    would be negative, so the probability is the calibration slice's failure rate for every run."""
    fitting, validation = _shifting(8, (0.1, 0.8), (0.6, 0.1))
    model = FailureModel(trees=SMALL)
    model.fit(fitting, validation)
    probability = model.predict_proba(_rows(200, 3))
    assert model.scale[0] == 0.0
    assert np.allclose(probability, validation.targets.mean())
    assert not model.contributions(_rows(5, 4))[:, :-1].any()  # nothing moved it: no risk factor


def test_contributions_add_up_to_the_calibrated_log_odds() -> None:
    """The risk factors' pushes are in the log-odds of the probability served."""
    model = FailureModel(trees=SMALL)
    model.fit(_failures(_rows(600, 1), 2), _failures(_rows(300, 3), 4))
    rows = _rows(20, 5)
    probability = model.predict_proba(rows)
    assert model.scale[0] not in (0.0, 1.0)
    np.testing.assert_allclose(
        model.contributions(rows).sum(axis=1), np.log(probability / (1 - probability))
    )


def _durations(rows: Matrix, effect: float) -> Labelled:
    noise = np.random.default_rng(int(effect * 10)).normal(0.0, 0.02, len(rows))
    return Labelled(rows, 100.0 * np.exp(effect * rows[:, INDEX["files_changed"]] + noise))


def test_a_correction_that_does_not_hold_on_validation_is_shrunk_away() -> None:
    """Learned +50% for a feature that no longer matters later: p50 falls back to the median."""
    model = DurationModel(trees=SMALL)
    model.fit(_durations(_rows(600, 1), 0.5), _durations(_rows(300, 2), 0.0))
    assert model.shrink == 0.0
    assert np.allclose(model.predict(_rows(50, 3))[:, 1], 100.0)


def test_a_correction_that_holds_on_validation_is_kept() -> None:
    """The same effect later: the shrink stays near one and the prediction follows the feature."""
    model = DurationModel(trees=SMALL)
    model.fit(_durations(_rows(600, 1), 0.5), _durations(_rows(300, 2), 0.5))
    rows = _rows(50, 3)
    p50 = model.predict(rows)[:, 1]
    changed = rows[:, INDEX["files_changed"]] == 1.0
    assert 0.8 <= model.shrink <= 1.2
    assert np.allclose(p50[changed], 100.0 * np.exp(0.5), rtol=0.1)
    assert np.allclose(p50[~changed], 100.0, rtol=0.1)


def _two_effects(n: int, seed: int, small: float) -> Labelled:
    """+50 % with ``files_changed`` (one run in five) and ``small`` with ``base_prev_failed``
    (one in two), in log-ratio, with 0.5 % noise."""
    rng = np.random.default_rng(seed)
    rows = _rows(n, seed)
    rows[:, INDEX["files_changed"]] = rng.random(n) < 0.2
    effect = 0.5 * rows[:, INDEX["files_changed"]] + small * rows[:, INDEX["base_prev_failed"]]
    return Labelled(rows, 100.0 * np.exp(effect + rng.normal(0.0, 0.005, n)))


def test_a_small_correction_that_does_not_hold_falls_in_the_dead_zone() -> None:
    """A +4 % learnt from the fitting slice that the validation slice does not show, beside a
    +50 % that it does: one shrink cannot drop the first and keep the second; the dead zone
    chosen with it does, and survives saving and loading."""
    fitting, validation = _two_effects(1200, 1, 0.04), _two_effects(600, 2, 0.0)
    model, ungated = DurationModel(trees=SMALL), DurationModel(trees=SMALL, gate=False)
    model.fit(fitting, validation)
    ungated.fit(fitting, validation)
    rows = _two_effects(200, 3, 0.0).rows
    small = (rows[:, INDEX["files_changed"]] == 0) & (rows[:, INDEX["base_prev_failed"]] == 1)
    large = rows[:, INDEX["files_changed"]] == 1
    assert model.gate > 0.0
    assert ungated.gate == 0.0

    def right(m: DurationModel) -> tuple[bool, bool]:
        p50 = m.predict(rows)[:, 1]
        dropped = np.allclose(p50[small], 100.0, rtol=0.01)
        kept = np.allclose(p50[large], 100.0 * np.exp(0.5), rtol=0.05)
        return dropped, kept

    assert right(model) == (True, True)
    assert right(ungated) != (True, True)
    loaded = DurationModel.from_dict(model.to_dict())
    assert np.array_equal(loaded.predict(rows), model.predict(rows))


def _by_trigger(n: int, seed: int) -> Labelled:
    """Pushes (one run in three) take their own median of five, 180 s, not the workflow's 100 s;
    nothing else in the row tells a push."""
    rng = np.random.default_rng(seed)
    rows = _rows(n, seed)
    push = rng.random(n) < 1 / 3
    rows[:, INDEX["dur_event_median5"]] = np.where(push, 180.0, 100.0)
    return Labelled(rows, rows[:, INDEX["dur_event_median5"]] * np.exp(rng.normal(0, 0.02, n)))


def test_a_trigger_that_runs_longer_is_predicted_from_its_own_recent_runs() -> None:
    """The median of five of the same trigger, as a ratio to the workflow's, moves p50 to it;
    without it the model cannot tell, and the setting survives saving and loading."""
    fitting, validation, rows = _by_trigger(900, 1), _by_trigger(300, 2), _by_trigger(60, 3).rows
    model, blind = DurationModel(trees=SMALL), DurationModel(trees=SMALL, by_event=False)
    model.fit(fitting, validation)
    blind.fit(fitting, validation)
    own = rows[:, INDEX["dur_event_median5"]]
    assert np.allclose(model.predict(rows)[:, 1], own, rtol=0.05)
    missed = np.abs(blind.predict(rows)[:, 1] / own - 1.0)
    assert (missed[own == 180.0] > 0.15).all()
    loaded = DurationModel.from_dict(model.to_dict())
    assert loaded.by_event
    assert np.array_equal(loaded.predict(rows), model.predict(rows))


def test_what_moved_the_duration_is_told_only_where_it_moved() -> None:
    """A push's median moves to its trigger's own, and the words say why and which way; a pull
    request's stays at the median of five (its trigger's push against the typical correction
    is not told as a change); a baseline's durations are not explained."""
    fitting, validation, rows = _by_trigger(900, 1), _by_trigger(300, 2), _by_trigger(60, 3).rows
    model = DurationModel(trees=SMALL)
    model.fit(fitting, validation)
    own = rows[:, INDEX["dur_event_median5"]]
    push, pull = int(np.flatnonzero(own == 180.0)[0]), int(np.flatnonzero(own == 100.0)[0])
    served, pushes = model.contributions(rows)
    p50 = model.predict(rows)[:, 1]
    assert np.allclose(np.exp(served), p50 / 100.0)
    assert pushes.shape == (len(rows), len(model.input_names))
    told = duration_words(model, rows[push : push + 1])
    assert (
        told[0] == "the last 5 successful runs of this trigger took 3.0 min (median) (lengthens it)"
    )
    assert duration_words(model, rows[pull : pull + 1]) == []
    assert duration_words(None, rows[push : push + 1]) == []


def test_versions_saved_before_ratios_and_shrink_load_into_the_same_predictions() -> None:
    """A saved form without the newer keys loads as the plain model it was."""
    fitting, validation = _durations(_rows(400, 1), 0.3), _durations(_rows(200, 2), 0.3)
    plain = DurationModel(trees=Trees(30, 31, 40), ratios=False, shrink=False, trailing=False)
    plain.fit(fitting, validation)
    failure = FailureModel(trees=Trees(30, 31, 40), or_previous=False)
    failure.fit(_failures(_rows(400, 1), 2), _failures(_rows(200, 3), 4))
    old_duration, old_failure = plain.to_dict(), failure.to_dict()
    for key in ("ratios", "by_event", "shrink", "gate", "trailing", "leaves", "min_leaf"):
        old_duration.pop(key)
    for key in ("or_previous", "leaves", "min_leaf"):
        old_failure.pop(key)
    rows = _with_bounds(_rows(50, 5), -0.2, 0.4)
    assert np.array_equal(DurationModel.from_dict(old_duration).predict(rows), plain.predict(rows))
    loaded = FailureModel.from_dict(old_failure)
    assert np.array_equal(loaded.predict(rows), failure.predict(rows))
    assert loaded.trees == Trees(30, 31, 40)


def _with_bounds(rows: Matrix, low: float, high: float) -> Matrix:
    out = rows.copy()
    out[:, INDEX["dur_res_low"]], out[:, INDEX["dur_res_high"]] = low, high
    return out


def test_the_interval_comes_from_the_workflows_own_recent_residuals() -> None:
    """Bounds known: p10 and p90 are the median of five scaled by them; unknown: the widened
    quantiles. p50 is the model's either way, and the choice survives saving and loading."""
    model = DurationModel(trees=SMALL)
    model.fit(_durations(_rows(600, 1), 0.5), _durations(_rows(300, 2), 0.5))
    plain = DurationModel.from_dict({**model.to_dict(), "trailing": False})
    rows = _rows(40, 3)
    steady, variable = _with_bounds(rows, -0.05, 0.05), _with_bounds(rows, -0.5, 0.9)
    predicted = model.predict(variable)
    assert np.allclose(predicted[:, 0], np.minimum(101.0 * np.exp(-0.5) - 1.0, predicted[:, 1]))
    assert np.allclose(predicted[:, 2], np.maximum(101.0 * np.exp(0.9) - 1.0, predicted[:, 1]))
    narrow = model.predict(steady)
    assert (narrow[:, 2] - narrow[:, 0] < predicted[:, 2] - predicted[:, 0]).all()
    assert ((narrow[:, 0] <= narrow[:, 1]) & (narrow[:, 1] <= narrow[:, 2])).all()
    assert np.array_equal(predicted[:, 1], plain.predict(variable)[:, 1])
    assert np.array_equal(model.predict(rows), plain.predict(rows))
    assert not np.array_equal(predicted, plain.predict(variable))
    loaded = DurationModel.from_dict(model.to_dict())
    assert np.array_equal(loaded.predict(variable), predicted)


def test_small_data_trains_on_one_thread_and_large_data_on_the_threads_asked_for() -> None:
    """Both models train a small history on one thread, whatever was asked, and large on two."""
    small, large = _rows(2_000, 1), _rows(PARALLEL_ROWS, 2)
    for rows, expected in ((small, 1), (large, 2)):
        failures = _failures(rows, 3)
        failure = FailureModel(trees=Trees(rounds=2, leaves=3, min_leaf=10), threads=2)
        failure.fit(failures, failures)
        assert failure.booster is not None
        assert failure.booster.params["num_threads"] == expected
        durations = Labelled(rows, np.full(len(rows), 120.0))
        duration = DurationModel(trees=Trees(rounds=2, leaves=3, min_leaf=10), threads=2)
        duration.fit(durations, Labelled(rows[:0], durations.targets[:0]))
        assert [b.params["num_threads"] for b in duration.boosters] == [expected] * 3


def test_runs_of_one_outcome_are_refused_in_words() -> None:
    """Nothing but passes to learn from: ``OneOutcome`` saying both outcomes are needed."""
    rows = _rows(300, 1)
    passes = Labelled(rows, np.zeros(len(rows)))
    with pytest.raises(OneOutcome, match=r"both passed and failed runs .*all 600 runs passed"):
        FailureModel(trees=SMALL).fit(passes, passes)
