"""Synthetic run histories for prediction tests: small, seeded, with a learnable signal.

Failures come more often after a failure on the same branch and with large
changes; durations follow a per-workflow level with noise, so models have
something to learn and baselines something to match. ``synthetic_jobs``
gives each run its jobs, derived from the run alone, so a history whose future
is altered gets the jobs of the altered runs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from controltower.intelligence.jobs import JobAttempt
from controltower.intelligence.records import HistoryRun

T0 = 1_700_000_000.0


def synthetic_history(*, repositories: int = 2, runs: int = 300, seed: int = 7) -> list[HistoryRun]:
    """``runs`` runs in each of ``repositories`` repositories, requested minutes apart."""
    rng = random.Random(seed)
    out: list[HistoryRun] = []
    for r in range(repositories):
        broken: dict[str, bool] = {}
        t = T0
        for i in range(runs):
            t += rng.uniform(60, 3600)
            workflow = rng.choice(("ci", "lint"))
            branch = rng.choice(("main", "main", "feature-a", "feature-b"))
            lines = int(rng.lognormvariate(3.5, 1.5))
            chance = 0.1 + (0.5 if broken.get(branch) else 0.0) + (0.2 if lines > 300 else 0.0)
            failed = rng.random() < chance
            broken[branch] = failed
            level = 600.0 if workflow == "ci" else 60.0
            duration = level * rng.uniform(0.8, 1.25) * (1.0 + lines / 5000)
            conclusion = "failure" if failed else rng.choice(("success",) * 12 + ("cancelled",))
            out.append(
                HistoryRun(
                    repository=f"org/repo{r}",
                    run_id=str(1000 + i),
                    run_number=i + 1,
                    workflow=workflow,
                    event=rng.choice(("push", "pull_request")),
                    branch=branch,
                    actor=rng.choice(("ana", "bo", "cy")),
                    head_sha=f"sha{r}-{i}",
                    conclusion=conclusion,
                    created=t,
                    started=t + 5,
                    completed=t + 5 + duration,
                    duration_s=duration,
                    files_changed=max(1, lines // 40),
                    lines_added=lines,
                    lines_deleted=lines // 3,
                )
            )
    return out


def synthetic_jobs(
    runs: Sequence[HistoryRun],
) -> dict[tuple[str, str, int], tuple[JobAttempt, ...]]:
    """The jobs of each run: ``build`` and ``test`` for ``ci``, ``lint`` for ``lint``.

    A failed ``ci`` run failed in ``test`` four times in five, else in
    ``build`` (``test`` is then skipped); durations split the run's.
    """
    out: dict[tuple[str, str, int], tuple[JobAttempt, ...]] = {}
    for run in runs:
        seconds = run.duration_s or 0.0
        failed = run.conclusion == "failure"
        if run.workflow != "ci":
            jobs: tuple[JobAttempt, ...] = (JobAttempt("lint", run.conclusion, seconds),)
        elif failed and random.Random(f"{run.repository}/{run.run_id}").random() < 0.2:
            jobs = (
                JobAttempt("build", "failure", seconds * 0.4),
                JobAttempt("test", "skipped", 0.0),
            )
        else:
            jobs = (
                JobAttempt("build", "success", seconds * 0.4),
                JobAttempt("test", run.conclusion, seconds * 0.6),
            )
        out[(run.repository, run.run_id, run.attempt)] = jobs
    return out
