"""Failure bursts: more failures in the last runs than their recent history makes likely.

The series is one outcome per run, 1 for failed and 0 for passed, oldest
first. At each run the last ``burst_window`` outcomes are compared with the
``burst_reference`` before them: if the failure rate of the reference is *p*,
the chance of at least as many failures in the window is a binomial tail. A
burst is a tail below ``burst_alpha`` with a rate at least
``burst_min_increase`` higher than *p*. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    resume = 0
    for i in range(m - 1, len(outcomes)):
        if i < resume:
            continue
        window = outcomes[i - m + 1 : i + 1]
        reference = outcomes[max(0, i - m + 1 - tuning.burst_reference) : i - m + 1]
        if len(reference) < tuning.burst_min_reference:
            continue
        # Laplace's rule keeps a spotless history from making one failure a burst.
        p = (float(reference.sum()) + 1) / (len(reference) + 2)
        failures = int(window.sum())
        rate = failures / m
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
        resume = i + m
    return found
