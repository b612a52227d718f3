"""The baseline: the rhythm profile, and nothing judged from later points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controltower.anomaly.baseline import (
    _CHOICE_EVERY,
    _CHOICE_MIN,
    _CHOICE_SPAN,
    _GAIN,
    _MIN_PER_BUCKET,
    _PER_BUCKET,
    _choices,
    _profile,
    robust_baseline,
    row_medians,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _by_definition(buckets: np.ndarray, residual: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The profile computed point by point, as its docstring defines it."""
    profile = np.zeros(len(residual))
    for i in range(len(residual)):
        earlier = [residual[j] for j in range(i) if buckets[j] == buckets[i] and known[j]]
        if len(earlier) >= _MIN_PER_BUCKET:
            profile[i] = np.median(earlier[-_PER_BUCKET:])
    return profile


@pytest.mark.parametrize("seed", range(5))
def test_the_profile_is_the_median_of_the_last_earlier_known_points_of_each_bucket(
    seed: int,
) -> None:
    """Any buckets, residuals and gaps: the same profile as the definition gives."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    buckets = rng.integers(0, int(rng.integers(1, 8)), n)
    residual = rng.normal(0, 1, n)
    known = rng.random(n) < 0.8
    residual[~known] = np.nan
    expected = _by_definition(buckets, residual, known)
    assert np.array_equal(_profile(buckets, residual, known), expected)


def test_appending_points_never_changes_the_baseline_of_earlier_ones() -> None:
    """A daily rhythm for ten days, then none: each prefix has the baseline the whole has there.

    Whether a rhythm is removed is decided from earlier points only; a
    decision over the whole series would drop it for the first ten days
    once the rhythmless weeks arrive, and judge those days differently.
    """
    rng = np.random.default_rng(3)
    hours = [T0 + timedelta(hours=i) for i in range(24 * 40)]
    values = np.array([100.0 + (40.0 if 9 <= t.hour < 17 else 0.0) for t in hours])
    values[24 * 10 :] = 120.0
    values += rng.normal(0, 4, len(values))
    values[24 * 25 :] *= 2.5
    whole = robust_baseline(hours, values, 60, 30)
    for cut in (24 * 6, 24 * 10, 24 * 20, 24 * 30):
        part = robust_baseline(hours[:cut], values[:cut], 60, 30)
        for name in ("center", "scale", "profile"):
            np.testing.assert_array_equal(getattr(part, name), getattr(whole, name)[:cut])


def _mad(values: np.ndarray) -> float:
    return float(np.median(np.abs(values - np.median(values))))


@pytest.mark.parametrize("seed", range(4))
def test_the_rhythm_chosen_is_the_one_its_definition_gives(seed: int) -> None:
    """Every tenth point, the last 500 residuals decide; a change needs a tenth less spread."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 1400))
    residual = rng.normal(0, 1, n) + np.where(np.arange(n) % 7 < 5, 1.0, -1.5) * rng.random()
    residual[rng.random(n) < 0.1] = np.nan
    profiles = [np.where(np.arange(n) % 7 < 5, 1.0, -1.5) * rng.random(), rng.normal(0, 0.3, n)]
    expected = np.zeros(n, dtype=int)
    current = 0
    for at in range(0, n, _CHOICE_EVERY):
        part = residual[max(0, at - _CHOICE_SPAN) : at]
        known = np.isfinite(part)
        if known.sum() >= _CHOICE_MIN:
            lo = max(0, at - _CHOICE_SPAN)
            spreads = [_mad(part[known])]
            spreads += [_mad((part - p[lo:at])[known]) for p in profiles]
            best = int(np.argmin(spreads))
            if spreads[best] < _GAIN * spreads[current]:
                current = best
        expected[at : at + _CHOICE_EVERY] = current
    np.testing.assert_array_equal(_choices(residual, profiles), expected)


def test_row_medians_leave_nan_out() -> None:
    rows = np.array([[3.0, 1.0, np.nan, 2.0], [np.nan] * 4, [4.0, 1.0, 2.0, 8.0]])
    np.testing.assert_array_equal(row_medians(rows), [2.0, np.nan, 3.0])
