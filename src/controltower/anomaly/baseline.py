"""Robust baselines: what a series normally is at each point, judged only from before it.

The baseline at point *i* is the median of the ``window`` points before it and
its spread the median absolute deviation (scaled to a standard deviation for
normal data), so the outliers a detector looks for move neither much. Daily
or weekly rhythm is removed first where the points before are long enough to
show it and removing it has made them measurably steadier. The rhythm at a
point is learnt only from earlier weeks (days) at the same weekday (hour):
trailing, and over several turns of the rhythm, so that a series run many
times a day does not take a change of level for rhythm. Whether to remove
one is decided from earlier points too, so a point is judged exactly as it
would have been when it arrived. A series sampled more than once a day (latency
every minute, requests per hour) learns its rhythm from its level instead, by
the time of day and of the week (``_sampled_seasons``). Pure: no I/O.
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
NO_SPREAD = 1e-9  # the spread of a normal that has none (all zero): never divide by zero
# and at least this share of the trailing median of |values| (a level near zero still has a spread)
TYPICAL_FLOOR = 0.02
# How often a rhythm is chosen, from how many points before, and how few are too few to tell
_CHOICE_EVERY, _CHOICE_SPAN, CHOICE_MIN = 10, 500, 100


@dataclass(frozen=True, slots=True)
class Baseline:
    """Per point: the expected value (``center``) and the normal spread (``scale``).

    Both are ``nan`` where fewer than ``min_history`` points precede; ``season``
    names the rhythm removed at the last point (``None``: none), and
    ``profile`` is what was removed at each point (zeros without a rhythm).
    ``options`` holds the expected values with each rhythm the series spans
    removed (the first: none; ``nan`` where that rhythm was not known yet)
    and ``chosen`` which of them each point was judged with
    (``as_chosen_at``).
    """

    center: Array
    scale: Array
    profile: Array
    season: str | None
    options: tuple[Array, ...] = ()
    chosen: NDArray[np.int_] | None = None

    def as_chosen_at(self, at: int) -> Array:
        """The expected value at every point as the rhythm chosen at ``at`` has it.

        Where a rhythm was chosen only lately, the points before were judged
        without it (a Saturday of a series low at weekends was far below the
        week's level); how far such points departed from normal is told
        again with the rhythm known now, so that what the series did before
        its rhythm was learnt does not set its bars afterwards. Points from
        before the rhythm could be known at all are ``nan``.
        """
        if self.chosen is None or not self.options:
            return self.center
        return self.options[int(self.chosen[at])]


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
        center[enough] = row_medians(rows)
        scale[enough] = MAD_TO_SD * row_medians(np.abs(rows - center[enough, None]))
    return center, scale


def spread_floor(values: Array, share: float = 0.25) -> float:
    """The smallest spread to divide by: ``share`` of the whole series' spread, never zero.

    A window of identical values (a step that always takes 12 s, a day with no
    runs) has a MAD of zero; dividing by it would make any change infinite.
    Used where a whole series is known (the evaluation sizes its anomalies
    with it). The baseline uses no share of the whole series' spread: a
    series that moved between regimes would make its calm stretches
    insensitive, and a point would be judged with later ones;
    ``LEVEL_FLOOR`` of the level and ``TYPICAL_FLOOR`` of the trailing
    typical size bound it at each point instead.
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
    timestamps: Sequence[datetime],
    values: Array,
    window: int,
    min_history: int,
    *,
    by_turn: bool = True,
    choice_min: int = CHOICE_MIN,
) -> Baseline:
    """The baseline of a series, with daily or weekly rhythm removed where it has helped so far.

    Whether a rhythm is removed is decided at each point from the points
    before it (``_choices``), like everything else here, so appending points
    to a series never changes how an earlier point was judged. ``by_turn``:
    a rhythm is learnt from its last turns (weeks, days), else from the last
    points of each bucket (``_profile``). ``choice_min``: how many points must be
    known before a rhythm is first chosen (``_choices``).
    """
    center, scale = trailing_median(values, window, min_history)
    profile = np.zeros(len(values))
    width = sampled_bucket(timestamps, window)
    if width is not None:  # steadier with the rhythm removed: the values themselves
        learnt, judged = _sampled_seasons(timestamps, values, width), values
    else:  # steadier: the residuals against the trailing median
        learnt, judged = _seasons(timestamps, values, center, by_turn=by_turn), values - center
    # a profile is zero where its rhythm is not known yet (``nan`` in ``learnt``)
    seasons = [(name, np.nan_to_num(p)) for name, p in learnt]
    unknown = [np.isnan(p) for _, p in learnt]
    season: str | None = None
    options: tuple[Array, ...] = ()
    chosen: NDArray[np.int_] | None = None
    if seasons:
        chosen = _choices(judged, [p for _, p in seasons], choice_min)
        options = (center,)
        for k, (_, option) in enumerate(seasons, start=1):
            use = chosen == k
            if not use.any():
                options += (center,)  # never judged with: what it would be is not needed
                continue
            adjusted_center, adjusted_scale = trailing_median(values - option, window, min_history)
            options += (np.where(unknown[k - 1], np.nan, adjusted_center + option),)
            center = np.where(use, adjusted_center + option, center)
            scale = np.where(use, adjusted_scale, scale)
            profile = np.where(use, option, profile)
        if len(chosen) and chosen[-1]:
            season = seasons[int(chosen[-1]) - 1][0]
    typical, _ = trailing_median(np.abs(values), window, min_history)
    floor = np.maximum(LEVEL_FLOOR * np.abs(center), TYPICAL_FLOOR * np.nan_to_num(typical))
    scale = np.where(np.isnan(scale), scale, np.maximum(np.maximum(scale, floor), NO_SPREAD))
    return Baseline(center, scale, profile, season, options, chosen)


def _seasons(
    timestamps: Sequence[datetime], values: Array, center: Array, *, by_turn: bool = True
) -> list[tuple[str, Array]]:
    """Each rhythm the series spans, with its trailing profile.

    The profile is ``nan`` (not known) before the rhythm is spanned, until
    the points before fall in two of its buckets, and at a bucket until
    enough earlier turns fell in it.
    """
    if len(timestamps) < 2:
        return []
    residual = values - center
    known = np.isfinite(residual)
    since = np.array([t - timestamps[0] for t in timestamps])
    options = []
    for season, needed in _SEASONS.items():
        if timestamps[-1] - timestamps[0] < needed:
            continue
        buckets = np.array([_bucket(season, t) for t in timestamps])
        # by point (the profile before): each point a turn of its own
        turns = (
            np.array([_turn(season, t) for t in timestamps])
            if by_turn
            else np.arange(len(timestamps))
        )
        learnt = _profile(buckets, turns, residual, known, unknown=np.nan)
        profile = np.where(since >= needed, learnt, np.nan)
        # a rhythm needs two buckets: with one (daily points, all at midnight) its profile
        # is a short trailing median of the residuals, which follows every change
        profile = np.where(_buckets_before(buckets) >= 2, profile, np.nan)
        options.append((season, profile))
    return options


SAMPLED_REGULAR = 0.9
"""A series is sampled (a metric scraped at an interval) when this share of its gaps is its
median gap."""
_BUCKET_MINUTES = (5, 10, 15, 20, 30, 60)
_POINTS_PER_BUCKET = 5
_MIN_OF_A_KIND = 2  # a weekend has two days: its rhythm is known from the second on


def sampled_bucket(timestamps: Sequence[datetime], window: int) -> timedelta | None:
    """The width of a time-of-day bucket for a series sampled more than once a day; ``None``
    for any other (runs, daily and weekly totals).

    Such a series (latency or CPU every minute) moves with the time of day within its window,
    so the trailing median lags the rhythm and the residuals against it do not show it;
    its rhythm is learnt from its level instead (``_sampled_seasons``). A bucket holds
    about ``_POINTS_PER_BUCKET`` points a day (at least 5 minutes, at most an hour), so the
    rhythm has no steps of its own between buckets larger than the noise. So is an hourly
    total's, whose window spans days: there the weekend moves within the window, and the
    rhythm of runs learns a weekday's only from three weeks of residuals against a trailing
    median that the weekend itself pulls down.
    """
    if len(timestamps) < 3 or window < 1:
        return None
    gaps = np.diff(np.array([t.timestamp() for t in timestamps]))
    gap = float(np.median(gaps))
    if gap <= 0.0 or np.mean(np.abs(gaps - gap) <= 0.01 * gap) < SAMPLED_REGULAR:
        return None
    if gap >= 86400.0:  # daily or weekly totals: no time of day
        return None
    wanted = _POINTS_PER_BUCKET * gap / 60.0
    minutes = next((m for m in _BUCKET_MINUTES if m >= wanted), _BUCKET_MINUTES[-1])
    return timedelta(minutes=minutes)


def _sampled_seasons(
    timestamps: Sequence[datetime], values: Array, width: timedelta
) -> list[tuple[str, Array]]:
    """The rhythms of a sampled series: its shape over the day of its kind (``workday``:
    Monday to Friday, or the weekend) and over the week (``weekday``).

    Each is learnt from earlier days only, against the week's level (the median of the last
    7 days' medians), never from a trailing median that follows the rhythm itself: at a
    point, the median over the last (up to 8, at least 3; of a kind, at least 2, since a
    weekend has only two days) earlier days of that kind of the day's median in its bucket
    less that level. Until enough days of a kind are known, the rhythm of every day stands
    in (and for ``weekday``, that of ``workday``); ``nan`` where not even that is known.
    For hourly totals, ``weekday`` is the hour of the week, learnt over the last 8 weeks.
    """
    step = int(width.total_seconds())
    seconds = np.array([t.hour * 3600 + t.minute * 60 + t.second for t in timestamps])
    slot = seconds // step
    days = np.array([t.toordinal() for t in timestamps])
    weekdays = (days - 1) % 7
    weekend = (weekdays >= 5).astype(int)
    first = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    sizes = np.diff(np.append(first, days.size))
    daily = _group_medians(values, first)
    # against the week's level (the median of the last 7 days' medians), a weekday's and a
    # weekend's rhythm meet at midnight: against each day's own, they would part there
    week_level = np.array([np.median(daily[max(0, k - 6) : k + 1]) for k in range(daily.size)])
    by_week = values - np.repeat(week_level, sizes)
    known = np.isfinite(values)
    per_day = int(86400 // step)
    # where a kind of day has too few earlier days to tell (the first weekends), the rhythm
    # of every day stands in: a choice that fell back to none there would step the level
    everyday = _profile(slot, days, by_week, known, unknown=np.nan)
    kinds = weekend * per_day + slot
    workday = _profile(kinds, days, by_week, known, unknown=np.nan, fewest=_MIN_OF_A_KIND)
    workday = np.where(np.isnan(workday), everyday, workday)
    weekly = _profile(weekdays * per_day + slot, days, by_week, known, unknown=np.nan)
    return [("workday", workday), ("weekday", np.where(np.isnan(weekly), workday, weekly))]


def _choices(residual: Array, profiles: list[Array], fewest: int = CHOICE_MIN) -> NDArray[np.int_]:
    """Per point, the rhythm to remove (0: none, k: ``profiles[k - 1]``), judged on earlier points.

    Every ``_CHOICE_EVERY`` points, the residuals of the last ``_CHOICE_SPAN``
    points before it (at least ``fewest``: a profile of a few noisy
    medians steadies a few points by chance) are compared with each profile
    removed and with none; the choice changes when another option cuts their
    spread by ``1 - _GAIN`` or more against the current one (at first: none),
    and holds until the next comparison. A choice that flipped on small
    differences would move the baseline back and forth by the rhythm and make
    steps of its own.
    """
    n = len(residual)
    chosen = np.zeros(n, dtype=int)
    if n == 0:
        return chosen
    ats = np.arange(0, n, _CHOICE_EVERY)
    frames = trailing_frames(residual, _CHOICE_SPAN, ats)
    enough = np.sum(np.isfinite(frames), axis=1) >= fewest
    spreads = [row_mads(frames)]
    spreads += [row_mads(frames - trailing_frames(p, _CHOICE_SPAN, ats)) for p in profiles]
    table = np.column_stack(spreads)
    current = 0
    for row, at in enumerate(ats):
        if enough[row]:
            best = int(np.argmin(table[row]))
            if table[row, best] < _GAIN * table[row, current]:
                current = best
        chosen[at : at + _CHOICE_EVERY] = current
    return chosen


def trailing_frames(values: Array, span: int, ats: NDArray[np.int_]) -> Array:
    """Per position in ``ats``, the ``span`` values before it (``nan`` before the first)."""
    padded = np.concatenate([np.full(span, np.nan), values.astype(float)])
    frames: Array = np.lib.stride_tricks.sliding_window_view(padded, span)[ats]
    return frames


def row_medians(rows: Array) -> Array:
    """The median of each row, ``nan`` left out (``nan`` for a row of nothing else)."""
    ordered = np.sort(rows, axis=1)  # nan sorts last
    counts = np.sum(~np.isnan(rows), axis=1)
    index = np.arange(len(rows))
    low, high = np.maximum((counts - 1) // 2, 0), np.maximum(counts // 2, 0)
    high = np.minimum(high, rows.shape[1] - 1)
    middle = (ordered[index, low] + ordered[index, high]) / 2
    return np.where(counts > 0, middle, np.nan)


def row_mads(rows: Array) -> Array:
    """The median absolute deviation of each row, ``nan`` left out."""
    return row_medians(np.abs(rows - row_medians(rows)[:, None]))


def _buckets_before(buckets: NDArray[np.int_]) -> NDArray[np.int_]:
    """Per point, how many distinct buckets the points before it fell in."""
    _, first = np.unique(buckets, return_index=True)
    new = np.zeros(len(buckets), dtype=int)
    new[first] = 1
    return np.concatenate([[0], np.cumsum(new)[:-1]])


def _bucket(season: str, stamp: datetime) -> int:
    return stamp.weekday() if season == "weekday" else stamp.hour


def _turn(season: str, stamp: datetime) -> int:
    """Which turn of the rhythm ``stamp`` falls in: its week, or its day."""
    day = stamp.toordinal()  # day 1 was a Monday
    return (day - 1) // 7 if season == "weekday" else day


def _profile(
    buckets: NDArray[np.int_],
    turns: NDArray[np.int_],
    residual: Array,
    known: NDArray[np.bool_],
    *,
    unknown: float = 0.0,
    fewest: int = _MIN_PER_BUCKET,
) -> Array:
    """Per point, the rhythm of its bucket: the median, over the last earlier turns of the
    rhythm (weeks, or days) with points in that bucket, of each turn's median residual there.

    Only earlier turns count (at most ``_PER_BUCKET``, at least ``fewest``; ``unknown``
    with fewer), so the profile never looks ahead,
    and a series run many times a day learns its rhythm from several weeks
    (days), not from its last few runs: those follow a change of level.
    """
    profile = np.full(len(residual), unknown)
    for bucket in np.unique(buckets):
        members = np.flatnonzero((buckets == bucket) & known)
        if members.size == 0:
            continue
        seen_turns, first = np.unique(turns[members], return_index=True)
        seen = _group_medians(residual[members], first)
        if seen.size < fewest:
            continue
        medians = np.zeros(seen.size + 1)
        for c in range(fewest, min(_PER_BUCKET, seen.size + 1)):
            medians[c] = np.median(seen[:c])
        if seen.size >= _PER_BUCKET:
            windows = np.lib.stride_tricks.sliding_window_view(seen, _PER_BUCKET)
            medians[_PER_BUCKET:] = np.median(windows, axis=1)
        everyone = np.flatnonzero(buckets == bucket)
        before = np.searchsorted(seen_turns, turns[everyone])  # earlier turns with known residuals
        profile[everyone] = np.where(before >= fewest, medians[before], unknown)
    return profile


def _group_medians(values: Array, first: NDArray[np.intp]) -> Array:
    """The median of each run of ``values`` that begins at an index of ``first`` (ascending)."""
    counts = np.diff(np.append(first, values.size))
    group = np.repeat(np.arange(first.size), counts)
    ordered = values[np.lexsort((values, group))]  # sorted within each run, runs in place
    low, high = first + (counts - 1) // 2, first + counts // 2
    medians: Array = (ordered[low] + ordered[high]) / 2
    return medians
