"""The critical path inferred from job timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controltower.telemetry.timeline import Span, bounds, critical_path

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def job(key: str, start: float | None, end: float | None, created: float | None = None) -> Span:
    """A job that ran from ``start`` to ``end`` seconds after T0 (``None``: did not run)."""

    def at(seconds: float | None) -> datetime | None:
        return None if seconds is None else T0 + timedelta(seconds=seconds)

    return Span(key, key, "success", at(created), at(start), at(end))


def test_parallel_jobs_give_the_slowest_alone() -> None:
    """Jobs that all start with the run: the one that ends last sets the run's length."""
    jobs = [job("lint", 5, 60), job("test", 5, 400), job("docs", 6, 90)]
    assert critical_path(jobs) == ["test"]


def test_a_chain_of_dependent_jobs_is_followed_back_to_the_start() -> None:
    """build → test → deploy, with lint in parallel: the chain, not lint, is the path."""
    jobs = [
        job("build", 5, 200),
        job("lint", 5, 250),
        job("test", 210, 500),
        job("deploy", 505, 560),
    ]
    assert critical_path(jobs) == ["build", "test", "deploy"]


def test_the_predecessor_is_the_last_job_to_finish_before_release() -> None:
    """A job needing two others is released by the later of them."""
    jobs = [job("unit", 5, 100), job("integration", 5, 300), job("package", 305, 400)]
    assert critical_path(jobs) == ["integration", "package"]


def test_a_long_wait_for_a_runner_is_not_a_dependency() -> None:
    """Queued with the run and started ten minutes after ``a`` ended: no chain."""
    jobs = [job("a", 5, 100), job("b", 700, 800, created=0)]
    assert critical_path(jobs) == ["b"]


def test_github_queue_time_decides_when_known() -> None:
    """Queued the moment ``a`` ended, it depended on ``a`` even though a runner came late."""
    jobs = [job("a", 5, 100), job("b", 700, 800, created=101)]
    assert critical_path(jobs) == ["a", "b"]


def test_a_job_released_in_the_second_its_dependency_ended() -> None:
    """Finishing in the same second as its dependency (a skipped step), it ends the path."""
    jobs = [job("build", 3, 86), job("deploy", 86, 86)]
    assert critical_path(jobs) == ["build", "deploy"]


def test_skipped_jobs_are_not_on_the_path() -> None:
    """GitHub gives a skipped job equal start and end times; it did not run."""
    skipped = Span("deploy", "deploy", "skipped", None, *[T0 + timedelta(seconds=86)] * 2)
    assert critical_path([job("build", 3, 86), skipped]) == ["build"]


def test_jobs_that_never_ran_are_left_out() -> None:
    """Skipped jobs have no times: no path, no bounds."""
    assert critical_path([job("skipped", None, None)]) == []
    assert bounds([job("skipped", None, None)]) is None
    assert bounds([job("a", 5, 10), job("b", 2, 8)]) == (
        T0 + timedelta(seconds=2),
        T0 + timedelta(seconds=10),
    )
