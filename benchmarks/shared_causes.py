"""How often stored anomalies coincide across repositories, and how many are told shared.

Over every series of the configured database, with the default tuning: per kind of
series (metric, daily or weekly), the spikes, level shifts and failure bursts (the
kinds ``anomaly.shared`` compares), how many began within its window (3 hours for
series of one point per run, a day for daily totals, a week for weekly ones) of the
same kind's change the same way in at least one other repository, and how many
``shared_causes`` tells as shared (more other repositories than chance explains);
then each cluster told, with its repositories.

    CONTROLTOWER_DATABASE_URL=sqlite:///PATH python -m benchmarks.shared_causes
"""

from __future__ import annotations

from collections import Counter, defaultdict

from benchmarks.stored_series import stored_series
from controltower.anomaly.findings import findings
from controltower.anomaly.shared import KINDS, WINDOWS, repository_of


def main() -> None:
    """A markdown table per kind of series, then one line per cluster told shared."""
    series = stored_series()
    label: dict[tuple[str, str], str] = {(s.name, s.metric): s.label for s in series}
    days: dict[tuple[str, str], int | None] = {(s.name, s.metric): s.days_per_point for s in series}
    compared = [f for f in findings(series) if f.anomaly.kind in KINDS and f.anomaly.change]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    clusters: dict[tuple[str, str, bool], set[str]] = defaultdict(set)
    for f in compared:
        key, up = (f.series, f.metric), f.anomaly.change > 0
        window = WINDOWS[days[key]]
        tally = counts[label[key]]
        tally["compared"] += 1
        tally["near"] += any(
            label[g.series, g.metric] == label[key]
            and (g.anomaly.change > 0) == up
            and repository_of(g.series) != repository_of(f.series)
            and abs(g.anomaly.start - f.anomaly.start) <= window
            for g in compared
        )
        if f.trigger and "shared_since" in f.trigger:
            tally["told"] += 1
            clusters[label[key], f.trigger["shared_since"], up].add(repository_of(f.series))
    print("| series | anomalies compared | with another repository's near | told shared |")
    print("|---|---:|---:|---:|")
    for name in sorted(counts):
        c = counts[name]
        print(f"| {name} | {c['compared']} | {c['near']} | {c['told']} |")
    print()
    for (name, since, up), repositories in sorted(clusters.items(), key=lambda c: c[0][1]):
        way = "rise" if up else "fall"
        print(
            f"- {since[:16]} {name} {way} in {len(repositories)}: {', '.join(sorted(repositories))}"
        )


if __name__ == "__main__":
    main()
