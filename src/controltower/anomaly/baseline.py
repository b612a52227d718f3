"""Robust baselines: what a series normally is at each point, judged only from before it.

The baseline at point *i* is the median of the ``window`` points before it and
its spread the median absolute deviation (scaled to a standard deviation for
normal data), so the outliers a detector looks for move neither much. Daily
or weekly rhythm is removed first when the series is long enough to show it
and removing it makes the series measurably steadier. The rhythm at a point is
learnt only from earlier points of the same weekday or hour (trailing), so a
point is judged exactly as it would have been when it arrived. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
MAD_TO_SD = 1.4826  # the MAD of normal data times this is its standard deviation
_SEASONS = {"weekday": timedelta(days=21), "hour": timedelta(days=3)}
_MIN_PER_BUCKET = 3
_PER_BUCKET = 8  # the rhythm at a point: the median of up to this many earlier ones in its bucket
_GAIN = 0.9  # a rhythm is kept only if it cuts the spread of residuals by 10 % or more
LEVEL_FLOOR = 0.05  # the spread at a point is at least 5 % of its level
GLOBAL_FLOOR = 0.0


@dataclass(frozen=True, slots=True)
class Baseline:
    """Per point: the expected value (``center``) and the normal spread (``scale``).

    Both are ``nan`` where fewer than ``min_history`` points precede; ``season``
    names the rhythm removed (``None``: none), and ``profile`` is what was
    removed at each point (zeros without a rhythm).
    """

    center: Array
    scale: Array
    profile: Array
    season: str | None


def trailing_median(values: Array, window: int, min_history: int) -> tuple[Array, Array]:
    """Median and MAD-scaled spread of the ``window`` values before each point."""
    n = len(values)
    padded = np.concatenate([np.full(window, np.nan), values])
    frames = np.lib.stride_tricks.sliding_window_view(padded[:-1], window)[:n]
    counts = np.sum(~np.isnan(frames), axis=1)
    center = np.full(n, np.nan)
    scale = np.full(n, np.nan)
    enough = counts >= min_history
    if enough.any():
        rows = frames[enough]
        center[enough] = np.nanmedian(rows, axis=1)
        scale[enough] = MAD_TO_SD * np.nanmedian(np.abs(rows - center[enough, None]), axis=1)
    return center, scale


def spread_floor(values: Array, share: float = 0.25) -> float:
    """The smallest spread to divide by: ``share`` of the whole series' spread, never zero.

    A window of identical values (a step that always takes 12 s, a day with no
    runs) has a MAD of zero; dividing by it would make any change infinite.
    The baseline uses no share of the whole series' spread (``GLOBAL_FLOOR``):
    a series that moved between regimes would make its calm stretches
    insensitive; ``LEVEL_FLOOR`` of the level at each point bounds it instead.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 1e-9
    mad = MAD_TO_SD * float(np.median(np.abs(finite - np.median(finite))))
    if mad == 0.0:
        mad = 1.2533 * float(np.mean(np.abs(finite - np.median(finite))))
    typical = float(np.median(np.abs(finite)))
    return max(share * mad, 0.02 * typical, 1e-9)


def robust_baseline(
    timestamps: Sequence[datetime], values: Array, window: int, min_history: int
) -> Baseline:
    """The baseline of a series, with daily or weekly rhythm removed where it helps."""
    center, scale = trailing_median(values, window, min_history)
    season, profile = _rhythm(timestamps, values, center)
    if season is not None:
        adjusted_center, scale = trailing_median(values - profile, window, min_history)
        center = adjusted_center + profile
    floor = np.maximum(LEVEL_FLOOR * np.abs(center), spread_floor(values, GLOBAL_FLOOR))
    scale = np.where(np.isnan(scale), scale, np.maximum(scale, floor))
    return Baseline(center, scale, profile, season)


def _rhythm(
    timestamps: Sequence[datetime], values: Array, center: Array
) -> tuple[str | None, Array]:
    """The rhythm (by weekday or hour of day) that best steadies the series, if any does."""
    zero = np.zeros(len(values))
    if len(timestamps) < 2:
        return None, zero
    span = timestamps[-1] - timestamps[0]
    residual = values - center
    known = np.isfinite(residual)
    if known.sum() < 2 * _MIN_PER_BUCKET:
        return None, zero
    before = _mad(residual[known])
    best: tuple[str | None, Array, float] = (None, zero, before * _GAIN)
    for season, needed in _SEASONS.items():
        if span < needed:
            continue
        buckets = np.array([_bucket(season, t) for t in timestamps])
        profile = _profile(buckets, residual, known)
        spread = _mad((residual - profile)[known])
        if spread < best[2]:
            best = (season, profile, spread)
    return best[0], best[1]


def _bucket(season: str, stamp: datetime) -> int:
    return stamp.weekday() if season == "weekday" else stamp.hour


def _profile(buckets: NDArray[np.int_], residual: Array, known: NDArray[np.bool_]) -> Array:
    """Per point, the median residual of the last earlier points of its bucket.

    Only points before it count (at most ``_PER_BUCKET``, at least
    ``_MIN_PER_BUCKET``; zero with fewer), so the profile never looks ahead.
    """
    profile = np.zeros(len(residual))
    for bucket in np.unique(buckets):
        members = np.flatnonzero(buckets == bucket)
        seen = residual[members][known[members]]  # the bucket's known residuals, in order
        if seen.size < _MIN_PER_BUCKET:
            continue
        # medians[c]: the median of the last (up to) _PER_BUCKET of the first c seen
        medians = np.zeros(seen.size + 1)
        for c in range(_MIN_PER_BUCKET, min(_PER_BUCKET, seen.size + 1)):
            medians[c] = np.median(seen[:c])
        if seen.size >= _PER_BUCKET:
            windows = np.lib.stride_tricks.sliding_window_view(seen, _PER_BUCKET)
            medians[_PER_BUCKET:] = np.median(windows, axis=1)
        counted: NDArray[np.int_] = np.cumsum(known[members])
        before = counted - known[members]  # known residuals before each member
        profile[members] = np.where(before >= _MIN_PER_BUCKET, medians[before], 0.0)
    return profile


def _mad(values: Array) -> float:
    return float(np.median(np.abs(values - np.median(values))))
