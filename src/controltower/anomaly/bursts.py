"""Failure bursts: more failures in the last runs than their recent history makes likely.

The series is one outcome per run, 1 for failed and 0 for passed, oldest
first. At each run the last ``burst_window`` outcomes are compared with the
``burst_reference`` before them: if the failure rate of the reference is *p*,
the chance of at least as many failures in the window is a binomial tail. A
burst is a tail below ``burst_alpha`` with a rate at least
``burst_min_increase`` higher than *p*. A burst is told once: no other is
raised until the window's rate falls back below *p* plus
``burst_min_increase`` (a failing streak of 40 runs is one burst, not two).
While it lasts, its observed rate and severity are those of its worst
window so far: a burst told at 5 failures in 20 that goes on to fail every
run is critical, told where it was first clear.
Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np

from controltower.anomaly.baseline import Array
from controltower.anomaly.model import Anomaly
from controltower.anomaly.severity import rate_severity
from controltower.anomaly.tuning import Tuning


def binomial_tail(successes: int, trials: int, p: float) -> float:
    """P(X ≥ successes) for X ~ Binomial(trials, p)."""
    if successes <= 0:
        return 1.0
    return min(
        1.0,
        sum(
            math.comb(trials, k) * p**k * (1 - p) ** (trials - k)
            for k in range(successes, trials + 1)
        ),
    )


def detect_bursts(timestamps: Sequence[datetime], outcomes: Array, tuning: Tuning) -> list[Anomaly]:
    """Windows of runs whose failures are improbable given the runs before them."""
    m = tuning.burst_window
    found: list[Anomaly] = []
    ongoing: float | None = None  # the rate before the burst being told, while it lasts
    for i in range(m - 1, len(outcomes)):
        window = outcomes[i - m + 1 : i + 1]
        failures = int(window.sum())
        rate = failures / m
        if ongoing is not None:
            if rate - ongoing >= tuning.burst_min_increase:
                if rate > found[-1].observed:  # the same burst, still going on, and worse
                    found[-1] = replace(
                        found[-1],
                        severity=rate_severity(ongoing, rate),
                        observed=rate,
                        details={**found[-1].details, "failures": failures},
                    )
                continue
            ongoing = None
        reference = outcomes[max(0, i - m + 1 - tuning.burst_reference) : i - m + 1]
        if len(reference) < tuning.burst_min_reference:
            continue
        # Laplace's rule keeps a spotless history from making one failure a burst.
        p = (float(reference.sum()) + 1) / (len(reference) + 2)
        if rate - p < tuning.burst_min_increase:
            continue
        tail = binomial_tail(failures, m, p)
        if tail >= tuning.burst_alpha:
            continue
        first = i - m + 1 + int(np.argmax(window > 0))
        found.append(
            Anomaly(
                kind="failure_burst",
                severity=rate_severity(p, rate),
                start=timestamps[first],
                timestamp=timestamps[i],
                expected=p,
                observed=rate,
                score=-math.log10(max(tail, 1e-300)),
                index=i,
                details={"failures": failures, "runs": m},
            )
        )
        ongoing = p
    return found
