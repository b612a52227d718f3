"""The detectors' parameters, with the defaults the evaluation was run with."""

from __future__ import annotations

from dataclasses import dataclass, replace

from controltower.anomaly.baseline import CHOICE_MIN
from controltower.anomaly.model import Direction, Metric


@dataclass(frozen=True, slots=True)
class Tuning:
    """How sensitive the detectors are.

    ``window`` points form the baseline (at least ``min_history`` before any
    judgement); a spike is a point ``spike_z`` robust standard deviations from
    it that the next ``confirm`` points do not follow (a point follows when it
    is ``spike_z / 2`` out and at least ``follow_share`` of the spike's
    departure; 0: any point ``spike_z / 2`` out), and also ``spike_tail``
    times as far from it as the series' own ``tail_quantile`` of departures over
    the last ``tail_window`` points (on heavy-tailed series such as queue times
    that tail lies far beyond what the robust spread suggests). Lasting changes
    are found by a CUSUM of robust z-scores clipped at ``clip`` (so one spike
    cannot raise it alone), with allowance ``cusum_k`` and threshold
    ``cusum_h``; whether a change is a shift or a drift is judged on what
    follows up to ``classify_after`` points after the alarm, smoothed by a
    running median of ``smooth`` points, a ramp that saves at least
    ``drift_evidence`` points' worth of a step's mean squared error being a
    drift by its shape alone.
    With ``further``, a further change (on, or back) after a level shift is looked for,
    against the level of the ``further_after`` points after its alarm (with
    ``further_after_drift``, after a drift too: a step soon after a change
    told as a drift is a change of its own), and,
    with ``further_chain``, after a further change that is a level shift too;
    with ``further_second_step``, a second step among those points (a further
    change that began before the level settled) leaves its points out of the
    level and is summed from where it began. With ``wobble_restart``, a
    level shift whose crossing points stayed within ``min_relative`` of
    normal, the level after them not, is a wobble before the change: the
    sums start anew; with ``small_restart``, so they do after a crossing
    whose change stays under ``min_relative`` of normal (it is never told,
    and would otherwise hold the window, unwatched, from a change that
    follows it). Where none is found within the
    window, the kind is judged again on what follows up to ``kind_after``
    points after the alarm, and that kind is told; with ``further_ramp``,
    also where a further level shift the same way is found but that later
    look says drift and no second step lies between: the drift went on,
    and the further change is not told.
    Failure bursts compare the last ``burst_window`` outcomes with the
    ``burst_reference`` before them: a binomial tail below ``burst_alpha`` and a
    rise of at least ``burst_min_increase`` in the failure rate. With
    ``stops``, a series without negative values that falls to zero is
    stopped once the run of
    zeros has a chance below ``stop_alpha`` given how often the ``window``
    points before were zero, and is longer than any run of zeros in the
    ``tail_window`` before (``stops.detect_stops``). With ``rhythm_by_turn``,
    a daily or weekly rhythm is learnt from the series' last days or weeks,
    else from the last points of each hour or weekday (``baseline._profile``);
    whether to remove one is first judged once ``rhythm_min`` points are known
    (``baseline._choices``).
    With
    ``log_scale``, series without negative values are judged on ``log(1 + x)``:
    durations, costs and counts vary by factors, not by fixed amounts.
    A shift or drift the sums find (not a further change, nor a stop) is told
    only when the points it is judged on stand apart
    by rank from the ``window`` before it began: a one-sided Mann-Whitney test,
    its way, with a tail below ``rank_alpha`` (0: no such test;
    ``change.unranked``).
    With ``busy``, a series of totals zero at ``detection.BUSY_IDLE`` of its
    points or more (a workflow idle on some days) is also judged for shifts
    and drifts on its busy points alone (``detection.busy_changes``), with a
    rank test at ``busy_rank_alpha``; such a change is told where no shift or
    drift of all the points its way lies within a window of it.
    A spike, shift or drift is reported only when it departs from normal by at
    least ``min_relative`` of normal (0.25: a quarter), so that statistically
    clear but small changes (two seconds on a ten-minute run) raise nothing; a
    spike by at least ``spike_relative`` (1.0: twice normal), since single
    points of real series stray far more than their levels do. It must also
    depart by ``min_change`` in the series' own unit (0: no such floor), so
    that a queue of two seconds that waits three, half as long again, raises
    nothing either; a stop is told whatever its size. ``for_series`` sets it
    from ``floor_seconds`` for durations and queue times and from
    ``floor_usd_month`` (a change of that many dollars a month) for costs.
    After a lasting change, no other is reported in the same direction for
    ``window`` points: it is the same episode while the baseline catches up,
    unless, after a level shift (or a drift), the series moves on, or back,
    against the level it settled at (a further change).
    A spike that way from where the change began until then is reported only
    when it is a spike against the level the series changed to, and a spike
    within ``confirm`` points after another that way is the same one.
    With ``sporadic``, a series zero at most points (error counts, say), which
    has no spread to depart from, is judged for spikes alone: a point more
    than ``sporadic_peak`` times the series' usual peak
    (``spikes.detect_sporadic_spikes``; 3: on Poisson noise 2 raised a
    false alarm every few thousand points, ``benchmarks/sporadic_noise.py``).
    With ``both_ways``, a metric whose meaning is not known (``anomaly
    detect``: requests, CPU, latency alike) has its falls judged as rises of
    the same ratio: a fall to half is as large as a doubling, both for
    ``min_relative`` and ``spike_relative`` and for severity
    (``severity.ratio_severity``); run durations and costs falling is news,
    not an incident, and are judged by how far they rose or fell in their unit.
    A shift or drift told before (``detection.detect``'s ``told``: the
    recorder's open ones) is held with a lower bar than it was told with, so
    that a verdict near the bar does not come and go as points arrive: it is
    taken back only once it is under ``hold_share`` of ``min_relative`` (or of
    ``min_change``) or its rank tail is above ``hold_alpha`` (``hold_bars``), and a
    wobble before it no longer re-dates it.
    """

    window: int = 60
    min_history: int = 30
    spike_z: float = 8.0
    confirm: int = 3
    follow_share: float = 0.5
    tail_window: int = 250
    tail_quantile: float = 0.99
    spike_tail: float = 2.0
    clip: float = 4.0
    cusum_k: float = 0.5
    cusum_h: float = 20.0
    rank_alpha: float = 1e-2
    classify_after: int = 30
    kind_after: int = 60
    drift_evidence: float = 15.0
    smooth: int = 5
    further: bool = True
    further_after: int = 30
    further_after_drift: bool = True
    further_chain: bool = True
    further_second_step: bool = True
    wobble_restart: bool = True
    small_restart: bool = True
    further_ramp: bool = True
    rhythm_by_turn: bool = True
    rhythm_min: int = CHOICE_MIN
    busy: bool = True
    busy_rank_alpha: float = 1e-3
    min_relative: float = 0.25
    hold_share: float = 0.5
    hold_alpha: float = 0.1
    spike_relative: float = 1.0
    min_change: float = 0.0
    floor_seconds: float = 10.0
    floor_usd_month: float = 0.0
    direction: Direction = "both"
    log_scale: bool = False
    sporadic: bool = False
    sporadic_peak: float = 3.0
    both_ways: bool = False
    burst_window: int = 20
    burst_reference: int = 100
    burst_min_reference: int = 30
    burst_alpha: float = 1e-3
    burst_min_increase: float = 0.2
    stops: bool = True
    stop_alpha: float = 1e-3

    def __post_init__(self) -> None:
        if self.window < 3 or not 2 <= self.min_history <= self.window or self.rhythm_min < 2:
            raise ValueError(
                "window must be at least 3, min_history between 2 and window,"
                " and rhythm_min at least 2"
            )
        if self.spike_z <= 0 or self.cusum_h <= 0 or self.clip <= self.cusum_k:
            raise ValueError("spike_z and cusum_h must be positive and clip above cusum_k")
        if min(self.min_relative, self.spike_tail, self.classify_after, self.kind_after) < 0:
            raise ValueError(
                "min_relative, spike_tail, classify_after and kind_after must not be negative"
            )
        if self.further_after < 2:
            raise ValueError("further_after must be at least 2 (the level of the points after)")
        if not 0 <= self.follow_share <= 1:
            raise ValueError("follow_share must be between 0 and 1")
        if self.sporadic_peak <= 0:
            raise ValueError("sporadic_peak must be positive")
        if self.drift_evidence <= 0 or self.smooth < 1 or self.smooth % 2 == 0:
            raise ValueError("drift_evidence must be positive and smooth an odd number of points")
        if not 0 < self.tail_quantile < 1 or self.tail_window < self.min_history:
            raise ValueError("tail_quantile must be in (0, 1) and tail_window at least min_history")
        if not 0 < self.burst_alpha < 1 or self.burst_window < 2:
            raise ValueError("burst_alpha must be in (0, 1) and burst_window at least 2")
        if not 0 < self.stop_alpha < 1:
            raise ValueError("stop_alpha must be in (0, 1)")
        if min(self.min_change, self.floor_seconds, self.floor_usd_month) < 0:
            raise ValueError("min_change, floor_seconds and floor_usd_month must not be negative")
        if not 0 <= self.hold_share <= 1 or not 0 <= self.hold_alpha < 1:
            raise ValueError("hold_share must be in [0, 1] and hold_alpha in [0, 1)")


def hold_bars(tuning: Tuning) -> Tuning:
    """The bars a shift or drift told before is held to: at most those it was told with.

    A verdict with one bar flickers where the change sits near it (a rank
    tail of 0.009, then 0.011, then 0.008 as points arrive), each pass
    telling and taking back the same change, each time an alert; told at the
    bar and taken back only well past it, the verdict stays (hysteresis).
    """
    rank_alpha = tuning.rank_alpha and max(tuning.rank_alpha, tuning.hold_alpha)
    return replace(
        tuning,
        min_relative=tuning.min_relative * tuning.hold_share,
        min_change=tuning.min_change * tuning.hold_share,
        rank_alpha=rank_alpha,
        wobble_restart=False,
    )


# Weekly totals: half a year of weeks is the baseline, two years the tail a spike is held to.
WEEKLY_WINDOW, WEEKLY_TAIL = 26, 104
# Days a series of daily totals is followed for after its last run (a baseline window: room to
# tell a stop), and after which it counts as no longer followed; weekly totals, a window of weeks.
FOLLOWED_DAYS = 60


def followed_days(days_per_point: int | None) -> int:
    """How many days after its last run a series is followed: a baseline window of its points.

    A workflow built a few weeks a year is only seen to stop after many
    quiet weeks, so weekly totals are followed for half a year.
    """
    return WEEKLY_WINDOW * 7 if days_per_point == 7 else FOLLOWED_DAYS


def for_series(tuning: Tuning, days_per_point: int | None, metric: Metric | None = None) -> Tuning:
    """The tuning for a series of ``metric`` of weekly totals (``days_per_point`` 7), of one
    point per run (None), else of daily totals.

    ``metric`` sets the floor in the series' unit (``min_change``, ``floor``): none where it
    is not given.

    A series of one point per run is not watched for stops, nor judged on its
    busy points apart: its zeros are values (a run that did not wait for a
    runner), not days without runs.

    A window of 60 weeks would be more than a year of baseline, and the
    evaluation would need five years of history to place an anomaly with a
    baseline before it and room after it; weekly totals get half a year.
    """
    if metric is not None:
        tuning = replace(tuning, min_change=floor(tuning, metric, days_per_point))
    if days_per_point is None:
        return replace(tuning, stops=False, busy=False)
    if days_per_point != 7:
        return tuning
    window = min(tuning.window, WEEKLY_WINDOW)
    min_history = min(tuning.min_history, window // 2)
    return replace(
        tuning,
        window=window,
        min_history=min_history,
        tail_window=max(min_history, min(tuning.tail_window, WEEKLY_TAIL)),
        classify_after=min(tuning.classify_after, window // 2),
        further_after=min(tuning.further_after, window // 2),
        kind_after=round(tuning.kind_after * window / tuning.window),
    )


# Series whose values are seconds: a change of them is judged by its seconds too.
TIMED: frozenset[Metric] = frozenset({"duration", "queue", "job_duration"})
DAYS_PER_MONTH = 30


def floor(tuning: Tuning, metric: Metric, days_per_point: int | None) -> float:
    """The least change of a series of ``metric`` worth telling, in its unit (``min_change``).

    Durations and queue times: ``floor_seconds``; costs: ``floor_usd_month`` as dollars a day
    (or a week); runs and outcomes: none (a run is the least change of a count; a failure
    burst is judged by its rate).
    """
    if metric in TIMED:
        return tuning.floor_seconds
    if metric == "cost":
        return tuning.floor_usd_month * (days_per_point or 1) / DAYS_PER_MONTH
    return 0.0


def for_any_metric() -> Tuning:
    """The tuning of ``anomaly detect``: a metric exported from elsewhere, whose meaning (which
    way is bad) is not known and which may be zero at most points (error counts).

    Its sums clip z-scores at the spike bar, not at 4: a point of a daily total far out
    counts as far as it is, so a fall to a tenth is told on its fourth day, not its seventh
    (``benchmarks/step_delay.py``); the CI series keep 4, with which they were evaluated.
    Whether to remove a rhythm is judged from 50 points on, not 100: a few months of daily
    totals low at weekends are otherwise judged without their weekly rhythm, and a fall on
    weekdays is within the reach of their weekends (``benchmarks/short_rhythm.py``).
    """
    tuning = Tuning(sporadic=True, both_ways=True, busy=False, rhythm_min=50)
    return replace(tuning, clip=tuning.spike_z)
