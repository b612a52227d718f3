"""Prediction speed: training on a whole dataset, and one prediction in-process.

Training reads ``travis-builds-2021`` (188,429 runs) from the history file,
featurizes it and fits both models (failure and duration) with two threads,
timing featurizing and fitting (not reading the file). One prediction is what
serving does when a run is requested: the features of the new run from its
repository's history, the failure probability with its risk factors, and
the duration quantiles with what moved their median; timed one run at a
time over the last runs of each repository.

    python -m benchmarks.prediction [--dataset NAME] [--predictions N]
    python -m benchmarks.prediction --jobs [--predictions N]
    python -m benchmarks.prediction --stored-sizes 1000,10000,50000 [--predictions N]

``--jobs`` reads ``gha-microservices-5repos`` with its jobs, trains the run
models and the job failure and duration models on them (timed together), and
times the per-job part of a prediction apart: the expected jobs' features and
baseline figures (``jobs.JobHistory``), the job model's probabilities,
decisions and risk factors on their rows and the job duration model's
quantiles, for one run at a time, as serving does after the run's own.

``--stored-sizes`` times instead what the worker does for a stored run, on
SQLite, for one repository of each size: read what it needs from the database
and predict with a live version (``serving.predict_for_run``). The
repository is the first N runs, in request order, of ``travis-builds-2021``'s
repositories taken as one (their runs renamed into one repository, each
project's runs one workflow of it; projects with a run lacking ``created_at``
left out: 10,489 runs remain), continued in time by copies of itself as far
as N needs (each copy shifted by the span of the whole, run ids prefixed with
the copy's number). All but the last runs are stored; then each of the last runs is
stored queued, predicted (timed, in its own transaction), and stored
completed. The first prediction of a repository in a process builds its
feature state by a full replay and is reported apart, as is the full replay
over the same database for comparison.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from itertools import groupby

import numpy as np
import orjson

from benchmarks.stored import time_stored
from controltower.ingest.history import parse_record
from controltower.intelligence.explain import risk_factors
from controltower.intelligence.features import RepositoryHistory
from controltower.intelligence.jobs import (
    JOB_INPUTS,
    JobAttempt,
    JobHistory,
    duration_rows,
    job_attempts,
    job_rows,
)
from controltower.intelligence.reasons import duration_words
from controltower.intelligence.records import HistoryRun, from_fact, request_order, request_times
from controltower.intelligence.training import Trained, train
from tests.support.paths import DATASETS


def load(name: str) -> list[HistoryRun]:
    """Every run of a dataset in ``runs/``."""
    with gzip.open(DATASETS / name, "rb") as handle:
        return [from_fact(parse_record(orjson.loads(line)).fact) for line in handle]


RunKey = tuple[str, str, int]


def load_with_jobs(name: str) -> tuple[list[HistoryRun], dict[RunKey, tuple[JobAttempt, ...]]]:
    """Every run of a dataset and, by run, its jobs."""
    runs, jobs = [], {}
    with gzip.open(DATASETS / name, "rb") as handle:
        for line in handle:
            fact = parse_record(orjson.loads(line)).fact
            runs.append(from_fact(fact))
            if fact.jobs:
                jobs[(fact.repository, fact.run_id, fact.attempt)] = job_attempts(fact.jobs)
    return runs, jobs


def time_job_predictions(
    trained: Trained, runs: list[HistoryRun], jobs: dict[RunKey, tuple[JobAttempt, ...]], count: int
) -> list[float]:
    """Milliseconds of the per-job part of ``count`` single predictions of runs with jobs."""
    model, duration = trained.job_failure, trained.job_duration
    assert model is not None, "no job model: the history has no jobs"
    assert duration is not None, "no job duration model: the history has too few jobs"
    timings: list[float] = []
    repositories = [list(g) for _, g in groupby(request_order(runs), key=lambda r: r.repository)]
    per_repo = max(1, count // len(repositories))
    for ordered in repositories:
        history, job_history = RepositoryHistory(), JobHistory()
        cut = len(ordered) - per_repo
        for i, (run, t) in enumerate(zip(ordered, request_times(ordered), strict=True)):
            own = jobs.get((run.repository, run.run_id, run.attempt), ())
            history.advance(t)
            row = np.asarray([history.features(run, t)])
            start = time.perf_counter()
            job_history.advance(t)
            expected = job_history.features(run.workflow)
            if i >= cut and expected:
                predicted = job_history.predict(run.workflow)
                inputs = job_rows(row[0], expected)
                duration.predict(duration_rows(inputs, predicted))
                model.predict_proba(inputs)
                model.predict(inputs)
                for values, push in zip(inputs, model.contributions(inputs), strict=True):
                    risk_factors(values, push, top=2, names=JOB_INPUTS)
                timings.append((time.perf_counter() - start) * 1000)
            history.request(run, t)
            job_history.hold(run, t, own)
    return timings


def time_predictions(trained: Trained, runs: list[HistoryRun], count: int) -> list[float]:
    """Milliseconds of each of ``count`` single predictions, spread over the repositories."""
    timings: list[float] = []
    repositories = [list(g) for _, g in groupby(request_order(runs), key=lambda r: r.repository)]
    per_repo = max(1, count // len(repositories))
    for ordered in repositories:
        times = request_times(ordered)
        history = RepositoryHistory()
        cut = len(ordered) - per_repo
        for run, t in zip(ordered[:cut], times[:cut], strict=True):
            history.request(run, t)
        for run, t in zip(ordered[cut:], times[cut:], strict=True):
            start = time.perf_counter()
            history.advance(t)
            row = np.asarray([history.features(run, t)])
            trained.failure.predict_proba(row)
            risk_factors(row[0], trained.failure.contributions(row)[0])
            trained.duration.predict(row)
            duration_words(trained.duration, row)
            timings.append((time.perf_counter() - start) * 1000)
            history.request(run, t)
    return timings


def main() -> None:
    """Train, time predictions, print one JSON document."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="travis-builds-2021.jsonl.gz")
    parser.add_argument("--predictions", type=int, default=2000)
    parser.add_argument("--stored-sizes", default="")
    parser.add_argument("--jobs", action="store_true")
    args = parser.parse_args()
    if args.jobs:
        print(json.dumps(_jobs(args.predictions)))
        return
    if args.stored_sizes:
        runs = load("travis-builds-2021.jsonl.gz")
        small = load("gha-flask-requests-django-petclinic.jsonl.gz")
        for size in (int(n) for n in args.stored_sizes.split(",")):
            print(json.dumps(time_stored(runs, small, size, min(args.predictions, 500))))
        return
    runs = load(args.dataset)
    start = time.perf_counter()
    trained = train(runs, threads=2)
    training_s = time.perf_counter() - start
    timings = time_predictions(trained, runs, args.predictions)
    quantiles = statistics.quantiles(timings, n=100)
    print(
        json.dumps(
            {
                "dataset": args.dataset,
                "runs": trained.runs,
                "training_s": round(training_s, 1),
                "predictions": len(timings),
                "prediction_p50_ms": round(quantiles[49], 3),
                "prediction_p95_ms": round(quantiles[94], 3),
            }
        )
    )


def _jobs(count: int) -> dict[str, object]:
    name = "gha-microservices-5repos.jsonl.gz"
    runs, jobs = load_with_jobs(name)
    start = time.perf_counter()
    trained = train(runs, jobs=jobs, threads=2)
    training_s = time.perf_counter() - start
    timings = time_job_predictions(trained, runs, jobs, count)
    quantiles = statistics.quantiles(timings, n=100)
    return {
        "dataset": name,
        "runs": trained.runs,
        "runs_with_jobs": len(jobs),
        "training_with_jobs_s": round(training_s, 1),
        "job_predictions": len(timings),
        "job_prediction_p50_ms": round(quantiles[49], 3),
        "job_prediction_p95_ms": round(quantiles[94], 3),
    }


if __name__ == "__main__":
    main()
