"""The rhythm profile: per point, the median of the last earlier residuals of its bucket."""

from __future__ import annotations

import numpy as np
import pytest

from controltower.anomaly.baseline import _MIN_PER_BUCKET, _PER_BUCKET, _profile


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
