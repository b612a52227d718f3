"""The slowest jobs a repository or workflow page lists: only jobs that ran, slowest first."""

from __future__ import annotations

import pytest

from controltower.telemetry.metrics import GroupMetrics, Stats
from controltower.web.pages.drilldown import slowest_jobs


def _job(name: str, p50: float | None, failure_rate: float | None) -> GroupMetrics:
    stats = Stats(
        runs=4,
        attempts=4,
        reruns=0,
        success_rate=None if failure_rate is None else 1 - failure_rate,
        failure_rate=failure_rate,
        duration_p50=p50,
        duration_p90=p50,
        duration_p95=p50,
        queue_p50=None,
        queue_p95=None,
        flaky_commits=0,
    )
    return GroupMetrics(f"org/app · CI · {name}", stats, None, {})


@pytest.mark.parametrize(
    ("jobs", "listed"),
    [
        ([_job("build", 60, 0.0), _job("deploy", None, 0.0)], ["build"]),  # only ever skipped
        ([_job("deploy", None, None), _job("build", 60, 0.0)], ["build"]),  # never completed
        ([_job("lint", None, 1.0), _job("build", 60, 0.0)], ["build", "lint"]),  # only failed
        ([_job("fast", 10, 0.0), _job("slow", 600, 0.5)], ["slow", "fast"]),
    ],
)
def test_jobs_that_never_ran_are_left_out_and_the_rest_ranked_by_median(
    jobs: list[GroupMetrics], listed: list[str]
) -> None:
    """Skipped or never-started jobs have no execution time: not listed; the rest slowest first."""
    assert [g.group.rsplit(" · ", 1)[1] for g in slowest_jobs(jobs)] == listed


def test_the_list_is_cut_after_the_jobs_that_ran() -> None:
    """Jobs that never ran do not take places of the limit."""
    jobs = [_job(f"skipped {n}", None, 0.0) for n in range(3)]
    jobs += [_job(f"ran {n}", 60.0 + n, 0.0) for n in range(3)]
    assert [g.group.rsplit(" · ", 1)[1] for g in slowest_jobs(jobs, limit=2)] == ["ran 2", "ran 1"]
