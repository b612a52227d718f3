"""How often stored anomalies coincide across repositories, and how many are told shared.

Over the per-run series (duration, queue time, job duration, failures), with the
default tuning: the spikes, level shifts and failure bursts (the kinds
``anomaly.shared`` compares), how many began within its window of the same
metric's change the same way in at least one other repository, and how many
``shared_causes`` tells as shared (more other repositories than chance explains);
then the clusters told, one line each.

    CONTROLTOWER_DATABASE_URL=sqlite:///PATH python -m benchmarks.shared_causes
"""

from __future__ import annotations

from benchmarks.stored_series import stored_series
from controltower.anomaly.findings import findings
from controltower.anomaly.shared import KINDS, METRICS, WINDOW, repository_of


def main() -> None:
    """A markdown table of the counts, then the anomalies told shared."""
    series = stored_series(sorted(METRICS))
    compared = [f for f in findings(series) if f.anomaly.kind in KINDS and f.anomaly.change]
    near = 0
    for f in compared:
        up = f.anomaly.change > 0
        if any(
            g.metric == f.metric
            and (g.anomaly.change > 0) == up
            and repository_of(g.series) != repository_of(f.series)
            and abs(g.anomaly.start - f.anomaly.start) <= WINDOW
            for g in compared
        ):
            near += 1
    shared = [f for f in compared if f.trigger and "shared_with" in f.trigger]
    print("| anomalies compared | with another repository's within the window | told shared |")
    print("|---:|---:|---:|")
    print(f"| {len(compared)} | {near} | {len(shared)} |")
    print()
    for f in sorted(shared, key=lambda f: f.anomaly.start):
        trigger = f.trigger or {}
        print(
            f"- {f.anomaly.start:%Y-%m-%d %H:%M} {f.metric} {f.anomaly.kind} in "
            f"{repository_of(f.series)}, with {trigger['shared_with']} "
            f"(chance {trigger['shared_chance']})"
        )


if __name__ == "__main__":
    main()
