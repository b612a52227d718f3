"""How many injected failure bursts any 20-run window test could find, at each tail.

The evaluation puts a burst of ``burst_window`` runs, each failing with the
recent failure rate plus 0.4, into each outcome series, where that rate
is at most 0.55 and the 20 runs before are no burst themselves
(``injection.burst_places``). The
best a window test can do is to look at exactly those runs: with the rate
*p* of the ``burst_reference`` runs before (Laplace's rule, as the detector
takes it), it raises an alarm from the least number of failures *k* whose
binomial tail is below the tail asked for and whose rate is at least
``burst_min_increase`` above *p*. Its power is the chance that the burst
holds at least *k* failures. This prints the mean power over random places
in each outcome series the evaluation judges (the same room), by tail and by
the series' failure rate: an upper bound on the detector's burst recall,
which also has to find where the burst is.

    CONTROLTOWER_DATABASE_URL=sqlite:///PATH python -m benchmarks.burst_power --seed 1
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.stored_series import stored_series
from controltower.anomaly.bursts import binomial_tail
from controltower.anomaly.evaluation import _room
from controltower.anomaly.injection import BURST_CEILING, BURST_RISE, burst_places
from controltower.anomaly.tuning import Tuning

TAILS = (1e-3, 3e-3, 1e-2, 3e-2)
RATES = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.45), (0.45, 0.551))
PLACES = 20


def aligned_power(reference: np.ndarray, tail: float, tuning: Tuning) -> float:
    """The chance that a window on exactly the burst's runs raises an alarm."""
    m = tuning.burst_window
    p = (float(reference.sum()) + 1) / (len(reference) + 2)
    burst = min(BURST_CEILING, float(reference.mean()) + BURST_RISE)
    for k in range(m + 1):
        if k / m - p >= tuning.burst_min_increase and binomial_tail(k, m, p) < tail:
            return binomial_tail(k, m, burst)
    return 0.0


def main() -> None:
    """Print the aligned power per tail, overall and by the series' failure rate."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    series = stored_series(["failures"])
    tuning = Tuning()
    rng = np.random.default_rng(args.seed)
    references: list[np.ndarray] = []
    for s in series:
        values = np.array([p.value for p in s.points], dtype=float)
        lo, hi = _room(tuning, len(values), outcomes=True)
        places = burst_places(values, lo, hi, tuning)
        if not places.size or float(np.ptp(values)) == 0.0:
            continue
        for at in places[rng.integers(len(places), size=PLACES)]:
            references.append(values[max(0, int(at) - tuning.burst_reference) : int(at)])
    rates = np.array([r.mean() for r in references])
    print(f"{len(references)} places in {len(references) // PLACES} outcome series\n")
    bands = [
        f"rate {lo:.2f}–{min(hi, 1):.2f} ({np.mean((rates >= lo) & (rates < hi)):.0%})"
        for lo, hi in RATES
    ]
    print("| tail | all | " + " | ".join(bands) + " |")
    print("|---" + "|---:" * (len(RATES) + 1) + "|")
    for tail in TAILS:
        power = np.array([aligned_power(r, tail, tuning) for r in references])
        by_rate = [power[(rates >= lo) & (rates < hi)] for lo, hi in RATES]
        cells = " | ".join(f"{100 * p.mean():.1f} %" if p.size else "–" for p in by_rate)
        print(f"| {tail:g} | {100 * power.mean():.1f} % | {cells} |")


if __name__ == "__main__":
    main()
