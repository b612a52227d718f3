"""Features: known when the run is requested, the same streaming or one at a time."""

from __future__ import annotations

import dataclasses
import random
import time

import numpy as np
import pytest

from controltower.intelligence.features import COLUMNS, INDEX, RepositoryHistory, featurize
from controltower.intelligence.intervals import conformal_bounds, log_residual
from controltower.intelligence.records import HistoryRun, known_at, request_order, request_times
from tests.support.histories import T0, synthetic_history


def _run(i: int, conclusion: str, *, created: float, duration: float = 100.0) -> HistoryRun:
    return HistoryRun(
        repository="o/r",
        run_id=str(i),
        run_number=i,
        workflow="ci",
        branch="main",
        conclusion=conclusion,
        created=created,
        started=created,
        completed=created + duration,
        duration_s=duration,
    )


def test_every_row_has_every_feature() -> None:
    """A feature row has one value per named feature."""
    runs = request_order(synthetic_history(runs=50))
    assert featurize(runs).shape == (100, len(COLUMNS))


def test_a_run_still_running_when_the_next_is_requested_is_not_seen() -> None:
    """The previous run's outcome counts only once it completed before the request."""
    first = _run(1, "failure", created=T0, duration=600)
    overlapping = _run(2, "success", created=T0 + 60)
    after = _run(3, "success", created=T0 + 700)
    rows = featurize([first, overlapping, after])
    prev = INDEX["wb_prev_failed"]
    assert np.isnan(rows[1, prev])
    assert rows[1, INDEX["in_flight"]] == 1.0
    assert rows[2, prev] == 1.0


def test_streaks_rates_and_durations_of_the_past() -> None:
    """Three failures then a pass: streaks, counts and the duration baselines' inputs."""
    runs = [
        _run(i, c, created=T0 + i * 1000, duration=d)
        for i, (c, d) in enumerate(
            [("success", 100), ("failure", 50), ("failure", 50), ("failure", 50), ("success", 300)]
        )
    ]
    rows = featurize([*runs, _run(9, "success", created=T0 + 9000)])
    last = rows[-1]
    assert last[INDEX["wb_pass_streak"]] == 1.0
    assert last[INDEX["wb_fails_last5"]] == 3.0
    assert rows[4, INDEX["wb_fail_streak"]] == 3.0
    assert last[INDEX["dur_prev"]] == 300.0
    assert last[INDEX["base_dur_median5"]] == 200.0


def test_the_same_trigger_median_reads_only_successful_runs_of_that_event() -> None:
    """Pushes of 300 s among pull requests of 100 s: a push's own median of five is the
    pushes', the workflow's mixes both; a failed push counts not; a new trigger has none."""
    history = [
        dataclasses.replace(
            _run(i, conclusion, created=T0 + i * 1000, duration=300 if push else 100),
            event="push" if push else "pull_request",
        )
        for i, (push, conclusion) in enumerate(
            [
                (True, "success"),
                (False, "success"),
                (False, "success"),
                (True, "success"),
                (False, "success"),
                (True, "failure"),
                (False, "success"),
            ]
        )
    ]
    last = T0 + 9000
    asked = [
        dataclasses.replace(_run(9, "success", created=last), event=event)
        for event in ("push", "pull_request", "schedule")
    ]
    rows = [featurize([*history, run])[-1] for run in asked]
    column = INDEX["dur_event_median5"]
    assert [row[column] for row in rows[:2]] == [300.0, 100.0]
    assert np.isnan(rows[2][column])
    assert rows[0][INDEX["base_dur_median5"]] == 100.0


def test_residual_bounds_of_the_workflows_recent_successful_runs() -> None:
    """Each success is compared with the median of five before it; the bounds appear once
    there are enough of those log-ratios, the last twenty of them, and failures count not."""
    seconds = [100.0 + 7.0 * ((i * 37) % 11) for i in range(30)]
    runs = [_run(i, "success", created=T0 + i * 1000, duration=d) for i, d in enumerate(seconds)]
    runs.insert(12, _run(99, "failure", created=T0 + 11_500, duration=5_000.0))
    rows = featurize(runs)
    residuals = [log_residual(d, seconds[max(0, i - 5) : i]) for i, d in enumerate(seconds)]
    known = [r for r in residuals if r is not None]
    low, high = INDEX["dur_res_low"], INDEX["dur_res_high"]
    first = next(i for i, row in enumerate(rows) if not np.isnan(row[low]))
    assert first == 10  # nine residuals (runs 1 to 9) before the tenth run's request
    assert np.isnan(rows[:first, high]).all()
    assert tuple(rows[-1, [low, high]]) == conformal_bounds(known[-21:-1])
    assert rows[-1, low] < 0.0 < rows[-1, high]


def _alter_future(runs: list[HistoryRun], cutoff: float, seed: int) -> list[HistoryRun]:
    rng = random.Random(seed)
    future = [r for r in runs if r.created is not None and r.created >= cutoff]
    outcomes = [(r.conclusion, r.duration_s) for r in future]
    rng.shuffle(outcomes)
    changed = {
        id(r): dataclasses.replace(r, conclusion=c, duration_s=d, lines_added=rng.randint(0, 9))
        for r, (c, d) in zip(future, outcomes, strict=True)
    }
    return [changed.get(id(r), r) for r in runs]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_altering_the_future_leaves_the_features_of_the_past_unchanged(seed: int) -> None:
    """Shuffled outcomes, durations and changes after a moment change no earlier row."""
    runs = request_order(synthetic_history(runs=200, seed=seed))
    cutoff = T0 + 100 * 1800
    past = np.array([r.created is not None and r.created < cutoff for r in runs])
    before = featurize(runs)
    after = featurize(request_order(_alter_future(runs, cutoff, seed)))
    assert past.sum() > 50
    np.testing.assert_array_equal(before[past], after[past])


def test_serving_one_run_gives_the_row_training_gave() -> None:
    """Feeding the past then asking for one run equals that run's row in the stream."""
    runs = request_order(synthetic_history(repositories=1, runs=120))
    rows = featurize(runs)
    times = request_times(runs)
    history = RepositoryHistory()
    for run, t in zip(runs[:-1], times[:-1], strict=True):
        history.request(run, t)
    history.advance(times[-1])
    served = history.features(runs[-1], times[-1])
    np.testing.assert_array_equal(np.asarray(served), rows[-1])


def test_peeking_gives_the_row_a_request_would_and_changes_nothing() -> None:
    """A run asked about at any point of a history (a hypothetical one) gets the row the stream
    gives it there, and the history goes on exactly as if it had not been asked."""
    runs = request_order(synthetic_history(repositories=1, runs=150, seed=4))
    runs = [
        dataclasses.replace(r, event=("push", "pull_request")[i % 2]) for i, r in enumerate(runs)
    ]
    rows, times = featurize(runs), request_times(runs)
    history = RepositoryHistory()
    for i, (run, t) in enumerate(zip(runs, times, strict=True)):
        if i >= 20:
            np.testing.assert_array_equal(np.asarray(history.peek(run, t)), rows[i])
        np.testing.assert_array_equal(np.asarray(history.request(run, t)), rows[i])
    assert np.isfinite(rows[:, INDEX["dur_event_median5"]]).sum() > 100


def test_a_run_without_completion_time_is_known_by_the_next_request() -> None:
    """No timestamps beyond creation: the outcome is taken as known just after the request."""
    run = HistoryRun(repository="o/r", run_id="1", conclusion="failure", created=T0)
    assert T0 < known_at(run, T0) < T0 + 1
    assert known_at(dataclasses.replace(run, status="in_progress"), T0) == float("inf")


def test_runs_without_created_at_are_ordered_by_run_number() -> None:
    """A repository with a run lacking created_at is ordered by run_number."""
    runs = [
        HistoryRun(repository="o/r", run_id="b", run_number=2, created=T0),
        HistoryRun(repository="o/r", run_id="a", run_number=1, created=None),
    ]
    assert [r.run_id for r in request_order(runs)] == ["a", "b"]


def test_ten_thousand_runs_featurize_in_well_under_a_second_each_thousand() -> None:
    """Streaming cost stays linear and small (the whole travis set takes seconds)."""
    runs = request_order(synthetic_history(repositories=5, runs=2000))
    start = time.perf_counter()
    featurize(runs)
    assert time.perf_counter() - start < 5.0
