"""Per-job predictions stored with a run's, from the jobs its workflow ran (SQLite, PostgreSQL)."""

from __future__ import annotations

import dataclasses
import gzip
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import Engine

from controltower.bootstrap import build
from controltower.config import Settings
from controltower.domain import RunFact
from controltower.domain.status import snapshot_key
from controltower.ingest.history import parse_record
from controltower.intelligence import capability, registry
from controltower.intelligence.accuracy import (
    Demotion,
    check_live_accuracy,
    demotions,
    live_accuracy,
)
from controltower.intelligence.explain import risk_factors
from controltower.intelligence.features import featurize
from controltower.intelligence.job_duration import table_duration_rows
from controltower.intelligence.job_model import JobFailureModel, job_table
from controltower.intelligence.job_serving import (
    job_comparisons,
    predict_jobs_for_run,
    record_job_predictions,
)
from controltower.intelligence.jobs import (
    JOB_INPUTS,
    JobHistory,
    RunBound,
    held_to_run,
    job_attempts,
)
from controltower.intelligence.records import from_fact, known_at, request_order, request_times
from controltower.intelligence.serving import (
    feature_row,
    job_duration_model_of,
    job_model_of,
    live_models,
    predict_for_run,
    predict_new_runs,
    record_prediction,
    stored_prediction,
)
from controltower.intelligence.source import run_pk_of
from controltower.intelligence.training import Trained, train
from controltower.store import schema
from controltower.store.tables import WorkflowRun, table_of
from controltower.store.writer import FactWriter
from controltower.web.api.predictions import model_accuracy_problems
from controltower.web.app import create_app
from tests.support.paths import DATASETS
from tests.support.predictions import trained_version

RUNS = 40
runs_t = table_of(WorkflowRun)


@cache
def _repository() -> tuple[RunFact, ...]:
    """Every run, in request order, of the dataset's first repository with jobs."""
    with gzip.open(DATASETS / "gha-microservices-5repos.jsonl.gz", "rb") as handle:
        facts = [parse_record(orjson.loads(line)).fact for line in handle]
    repository = next(f.repository for f in facts if f.jobs)
    mine = {(f.run_id, f.attempt): f for f in facts if f.repository == repository}
    ordered = request_order(from_fact(f) for f in mine.values())
    return tuple(mine[(r.run_id, r.attempt)] for r in ordered)


def _facts() -> tuple[RunFact, ...]:
    """The first runs of that repository."""
    return _repository()[:RUNS]


@cache
def _trained_on_the_repository() -> Trained:
    """The models trained on all of that repository's runs and jobs (enough for a job model)."""
    facts = _repository()
    jobs = {(f.repository, f.run_id, f.attempt): job_attempts(f.jobs or ()) for f in facts}
    return train([from_fact(f) for f in facts], jobs=jobs, threads=1)


def _expected(facts: tuple[RunFact, ...], target: RunFact) -> dict[str, float | None]:
    """Job name -> median of its last five successful durations, from runs known by the request."""
    assert target.created_at is not None
    at = target.created_at.timestamp()
    done = []
    for f in facts:
        run = from_fact(f)
        if f.workflow == target.workflow and f.jobs and run.created is not None:
            when = known_at(run, run.created)
            if run.created < at and when < at:
                done.append((when, f))
    done.sort(key=lambda pair: pair[0])
    names = list(dict.fromkeys(j.name for j in done[-1][1].jobs or ()))
    medians: dict[str, float | None] = {}
    for name in names:
        seconds = [
            j.success_duration
            for _, f in done
            for j in job_attempts(f.jobs or ())
            if j.name == name and j.success_duration is not None
        ]
        medians[name] = statistics.median(seconds[-5:]) if seconds else None
    return medians


def _stored(
    engine: Engine, settings: Settings, facts: tuple[RunFact, ...] | None = None
) -> tuple[RunFact, int]:
    facts = _facts() if facts is None else facts
    target = dataclasses.replace(
        facts[-1],
        status="queued",
        conclusion=None,
        completed_at=None,
        duration_s=None,
        jobs=None,
        snapshot=snapshot_key("queued", facts[-1].created_at, "queued"),
    )
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([*facts[:-1], target])
    on = Settings.model_validate({**settings.model_dump(), "intelligence": {"mode": "on"}})
    capability.forget()
    predict_new_runs(engine, on, [(target.repository, target.run_id, target.attempt)])
    with engine.connect() as conn:
        pk = run_pk_of(conn, target.repository, target.run_id, target.attempt)
    assert pk is not None
    return target, pk


def test_each_expected_job_is_predicted_from_its_own_past(
    engine: Engine, settings: Settings
) -> None:
    """The jobs of the workflow's last completed run, each with the median of its last five."""
    target, pk = _stored(engine, settings)
    expected = _expected(_facts(), target)
    with engine.connect() as conn:
        stored = job_comparisons(conn, pk)
    assert expected
    assert [j.name for j in stored] == list(expected)
    for job in stored:
        assert job.duration_p50 == pytest.approx(expected[job.name])
        assert job.actual_conclusion is None  # the run has not run its jobs yet


def test_stored_intervals_are_those_the_evaluation_computes(
    engine: Engine, settings: Settings
) -> None:
    """Serving stores the conformal p10/p90 that a ``JobHistory`` fed every earlier run gives."""
    target, pk = _stored(engine, settings)
    history = JobHistory()
    ordered = [from_fact(f) for f in _facts()[:-1]]
    jobs = {f.run_id: job_attempts(f.jobs or ()) for f in _facts()}
    for run, t in zip(ordered, request_times(ordered), strict=True):
        history.request(run, t, jobs[run.run_id])
    assert target.created_at is not None
    history.advance(target.created_at.timestamp())
    expected = {p.name: (p.duration_p10, p.duration_p90) for p in history.predict(target.workflow)}
    with engine.connect() as conn:
        stored = {j.name: (j.duration_p10, j.duration_p90) for j in job_comparisons(conn, pk)}
    assert any(low is not None for low, _ in stored.values())
    assert list(stored) == list(expected)
    for name, (low, high) in stored.items():
        assert (low, high) == pytest.approx(expected[name])


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The API and pages with prediction on."""
    container = build(
        Settings.model_validate({**settings.model_dump(), "intelligence": {"mode": "on"}})
    )
    schema.upgrade(container.engine)
    with TestClient(create_app(container)) as client:
        yield client
    container.close()


def test_the_run_api_and_page_show_the_job_predictions(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    """The run's prediction lists its jobs; the run page has the per-job table."""
    target, _ = _stored(engine, settings)
    base = f"/repositories/{target.repository}/runs/{target.run_id}"
    body = client.get(f"/api/v1{base}/prediction").json()
    names = list(_expected(_facts(), target))
    assert [j["name"] for j in body["jobs"]] == names
    page = client.get(base).text
    assert 'aria-label="Job predictions"' in page
    assert names[0] in page
    assert "failure from its recent failure share and its previous outcome" in page
    assert all(
        j["risk_factors"] == [] and j["failure_predictor"] == "baselines" for j in body["jobs"]
    )


def test_a_completed_run_whose_jobs_never_arrived_says_its_jobs_are_not_known(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    """Queued: the expected jobs have not run yet; completed with no job stored: not known."""
    target, pk = _stored(engine, settings)
    base = f"/repositories/{target.repository}/runs/{target.run_id}"
    with engine.begin() as conn:  # queued a minute ago: queued in the history's past, it ended
        recent = datetime.now(UTC) - timedelta(minutes=1)
        conn.execute(
            runs_t.update().where(runs_t.c.id == pk).values(created_at=recent, started_at=None)
        )
    table = client.get(base).text.split('aria-label="Job predictions"', 1)[1].split("</table>")[0]
    assert "not run yet" in table
    done = _facts()[-1]
    later = done.completed_at + timedelta(minutes=1) if done.completed_at else None
    finished = dataclasses.replace(
        done, jobs=None, snapshot=snapshot_key(done.status, later, "no jobs")
    )
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([finished])
    table = client.get(base).text.split('aria-label="Job predictions"', 1)[1].split("</table>")[0]
    assert "not run yet" not in table
    assert "not known: no job of this run arrived" in table


def test_a_job_that_called_a_reusable_workflow_is_compared_with_the_job_it_ran(
    engine: Engine, settings: Settings
) -> None:
    """Expected as "Deploy", run as "Deploy / deploy": the comparison shows how it went."""
    _, pk = _stored(engine, settings)
    done = _facts()[-1]
    assert done.jobs
    first = done.jobs[0]
    with engine.connect() as conn:
        assert first.name in [j.name for j in job_comparisons(conn, pk)]
    called = dataclasses.replace(first, name=f"{first.name} / deploy")
    later = done.completed_at + timedelta(minutes=1) if done.completed_at else None
    finished = dataclasses.replace(
        done,
        jobs=(called, *done.jobs[1:]),
        snapshot=snapshot_key(done.status, later, "renamed"),  # newer than the queued one
    )
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([finished])
    with engine.connect() as conn:
        compared = {j.name: j for j in job_comparisons(conn, pk)}
    assert compared[first.name].actual_conclusion == first.conclusion
    assert compared[first.name].actual_duration_s is not None


def _deploying(fact: RunFact, name: str, *, skipped: bool) -> RunFact:
    """``fact`` with its job ``name`` as a reusable workflow's: skipped "Deploy", or ran
    "Deploy / deploy"."""
    jobs = tuple(
        (
            dataclasses.replace(j, name="Deploy", conclusion="skipped", completed_at=j.started_at)
            if skipped
            else dataclasses.replace(j, name="Deploy / deploy")
        )
        if j.name == name
        else j
        for j in fact.jobs or ()
    )
    return dataclasses.replace(fact, jobs=jobs)


def test_a_caller_skipped_last_time_is_predicted_and_shown_running_as_the_job_it_called(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    """The last runs skipped "Deploy": the run is expected to run "Deploy / deploy", predicted
    from that job's history; running, the page says so; skipped, it is compared with "Deploy"."""
    facts = _facts()
    first = next(j.name for f in facts for j in f.jobs or ())
    renamed = tuple(
        _deploying(f, first, skipped=i >= len(facts) - 6) for i, f in enumerate(facts[:-1])
    )
    target, pk = _stored(engine, settings, (*renamed, facts[-1]))
    with engine.connect() as conn:
        stored = {j.name: j for j in job_comparisons(conn, pk)}
    assert "Deploy" not in stored
    assert stored["Deploy / deploy"].duration_p50 is not None
    assert stored["Deploy / deploy"].failure_probability is not None
    done = _facts()[-1]
    now = datetime.now(UTC).replace(microsecond=0)  # running now, not an end that never arrived
    running = _deploying(done, first, skipped=False)
    running = dataclasses.replace(
        running,
        status="in_progress",
        conclusion=None,
        started_at=now,
        completed_at=None,
        duration_s=None,
        jobs=tuple(
            dataclasses.replace(
                j, status="in_progress", conclusion=None, started_at=now, completed_at=None
            )
            for j in running.jobs or ()
        ),
        snapshot=snapshot_key("in_progress", now, "running"),
    )
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([running])
    with engine.connect() as conn:
        compared = {j.name: j for j in job_comparisons(conn, pk)}
    assert compared["Deploy / deploy"].actual_status == "in_progress"
    page = client.get(f"/repositories/{target.repository}/runs/{target.run_id}").text
    table = page.split('aria-label="Job predictions"', 1)[1].split("</table>")[0]
    row = next(r for r in table.split("<tr>") if "Deploy / deploy" in r)
    assert row.endswith("<td>running</td></tr>")
    assert "not run yet" not in table
    skipped = dataclasses.replace(
        _deploying(done, first, skipped=True),
        snapshot=snapshot_key(done.status, now + timedelta(minutes=1), "done"),
    )
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([skipped])
    with engine.connect() as conn:
        compared = {j.name: j for j in job_comparisons(conn, pk)}
    deploy = compared["Deploy / deploy"]
    assert (deploy.actual_conclusion, deploy.actual_status) == ("skipped", "completed")


def test_where_the_job_model_serves_the_stored_job_figures_are_its_on_the_training_rows(
    engine: Engine, settings: Settings, client: TestClient
) -> None:
    """Serving builds each job's row as training does: stored figures are the model's on them."""
    facts = _facts()
    done = [from_fact(f) for f in facts[:-1]]
    jobs = {(f.repository, f.run_id, f.attempt): job_attempts(f.jobs or ()) for f in facts}
    trained = _trained_on_the_repository()
    model = trained.job_failure
    assert model is not None
    report = {**trained_version()[1], "jobs": {"served": {"failure_predicted": "model"}}}
    with engine.begin() as conn:
        registry.promote(conn, registry.register(conn, trained, report).version)
    target, pk = _stored(engine, settings)
    runs = request_order([*done, from_fact(target)])
    table = job_table(runs, featurize(runs), jobs)
    at = next(i for i, r in enumerate(runs) if r.run_id == target.run_id)
    mine = table.run_index == at
    with engine.connect() as conn:
        stored = job_comparisons(conn, pk)
        run_said = stored_prediction(conn, pk)
    assert run_said is not None
    assert len(stored) == int(mine.sum()) > 0
    # each job held to its run's decision, and to its probability where the run model gave it
    bound = RunBound(
        run_said["failure_probability"] if run_said["probability_predictor"] == "model" else None,
        run_said["failure_predicted"],
    )
    held = [
        held_to_run(float(q), bool(f), bound)
        for q, f in zip(
            model.predict_proba(table.rows[mine]), model.predict(table.rows[mine]), strict=True
        )
    ]
    probability = np.array([j.failure_probability for j in stored], dtype=np.float64)
    np.testing.assert_allclose(probability, [q for q, _ in held])
    assert [j.failure_predicted for j in stored] == [f for _, f in held]
    assert {j.failure_predictor for j in stored} == {"model"}
    pushes = model.contributions(table.rows[mine])
    for job, row, push in zip(stored, table.rows[mine], pushes, strict=True):
        words = [r.told for r in risk_factors(row, push, top=2, names=JOB_INPUTS)]
        assert job.risk_factors == words
    assert any(job.risk_factors for job in stored)
    told = [w for job in stored for w in job.risk_factors]
    with engine.connect() as conn:
        run_prediction = stored_prediction(conn, pk)
    assert run_prediction is not None
    told += run_prediction["risk_factors"]
    assert len(told) > len(stored)
    assert all(w.endswith(("(raises the risk)", "(lowers the risk)")) for w in told)
    page = client.get(f"/repositories/{target.repository}/runs/{target.run_id}").text
    assert "failure from the job model" in page
    first = next(job for job in stored if job.risk_factors)
    assert str(escape(first.risk_factors[0])) in page  # as the page's templates escape it


@pytest.mark.parametrize("served", ["model", "median5_interval"])
def test_job_durations_are_the_duration_models_where_it_serves_and_the_median_elsewhere(
    engine: Engine, settings: Settings, client: TestClient, served: str
) -> None:
    """Chosen by the job report, the stored durations are the job duration model's on the
    training rows (the run page and the API say so); not chosen, the median of five."""
    facts = _facts()
    done = [from_fact(f) for f in facts[:-1]]
    jobs = {(f.repository, f.run_id, f.attempt): job_attempts(f.jobs or ()) for f in facts}
    trained = _trained_on_the_repository()
    model = trained.job_duration
    assert model is not None
    chosen = {"failure_predicted": "baselines", "duration": served}
    report = {**trained_version()[1], "jobs": {"served": chosen}}
    with engine.begin() as conn:
        registry.promote(conn, registry.register(conn, trained, report).version)
    target, pk = _stored(engine, settings)
    runs = request_order([*done, from_fact(target)])
    table = job_table(runs, featurize(runs), jobs)
    mine = table.run_index == next(i for i, r in enumerate(runs) if r.run_id == target.run_id)
    with engine.connect() as conn:
        stored = job_comparisons(conn, pk)
    quantiles = np.array(
        [[j.duration_p10, j.duration_p50, j.duration_p90] for j in stored], dtype=np.float64
    )
    medians = [_expected(facts, target)[j.name] for j in stored]
    base = f"/repositories/{target.repository}/runs/{target.run_id}"
    body = client.get(f"/api/v1{base}/prediction").json()
    page = client.get(base).text
    if served == "model":
        np.testing.assert_allclose(quantiles, model.predict(table_duration_rows(table)[mine]))
        assert not np.allclose(quantiles[:, 1], np.array(medians, dtype=np.float64))
        assert {j.duration_predictor for j in stored} == {"model"}
        assert {j["duration_predictor"] for j in body["jobs"]} == {"model"}
        assert "Durations from the job duration model" in page
    else:
        assert quantiles[:, 1].tolist() == pytest.approx(medians)
        assert {j["duration_predictor"] for j in body["jobs"]} == {"median5"}
        assert "Durations from each job's own history" in page


def test_a_job_model_whose_live_figures_fell_below_the_baselines_is_demoted(
    engine: Engine, settings: Settings
) -> None:
    """All stored job predictions wrong: live F1 0, below the previous outcome; baselines serve."""
    facts = _facts()
    runs = [from_fact(f) for f in facts]
    jobs = {(f.repository, f.run_id, f.attempt): job_attempts(f.jobs or ()) for f in facts}
    trained = train(runs, jobs=jobs, threads=1)
    report = {**trained_version()[1], "jobs": {"served": {"failure_predicted": "model"}}}
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs(list(facts))
        version = registry.promote(conn, registry.register(conn, trained, report).version).version
        for fact in facts[5:]:
            pk = run_pk_of(conn, fact.repository, fact.run_id, fact.attempt)
            assert pk is not None
            prediction = predict_for_run(conn, pk)
            assert prediction is not None
            record_prediction(conn, pk, prediction, mode="on", shown=True)
            ran = {j.name: j for j in job_attempts(fact.jobs or ())}
            wrong = []
            for predicted in predict_jobs_for_run(conn, pk):
                job = ran.get(predicted.name)
                failed = job is not None and bool(job.failed)
                wrong.append(
                    dataclasses.replace(
                        predicted,
                        failure_probability=0.01 if failed else 0.99,
                        failure_predicted=not failed,
                        failure_predictor="model",
                    )
                )
            record_job_predictions(conn, pk, wrong)
    strict = Settings.model_validate(
        {
            **settings.model_dump(),
            "intelligence": {"mode": "on", "accuracy_min_runs": 5, "accuracy_days": 3650},
        }
    )
    last = max(f.completed_at for f in facts if f.completed_at is not None)
    with engine.begin() as conn:
        found = live_accuracy(conn, 3650, last + timedelta(hours=1))
        assert found.jobs >= 40
        assert found.served["job_failure"] == {"model": found.jobs}
        assert found.job_failure["model"]["f1"] == 0.0
        assert (found.job_failure["previous"]["f1"] or 0.0) > 0.05
        made = check_live_accuracy(conn, strict, last + timedelta(hours=1))
    assert Demotion(version, "job_failure", "baselines") in made
    with engine.connect() as conn:
        live = registry.live_version(conn)
        assert live is not None
        assert live.job_failure_predictor == "baselines"
        assert Demotion(version, "job_failure", "baselines") in demotions(conn)
        assert job_model_of(live_models(conn)) is None
        problems = model_accuracy_problems(conn)
    assert any(p.title == "prediction of job failure demoted to a baseline" for p in problems)


def test_a_job_duration_model_whose_live_figures_fell_below_the_median_is_demoted(
    engine: Engine, settings: Settings
) -> None:
    """Stored job durations ten times too long: live within ±20% 0, below the median of five's;
    the median of five serves jobs' durations and the problem says so."""
    facts = _facts()
    runs = [from_fact(f) for f in facts]
    jobs = {(f.repository, f.run_id, f.attempt): job_attempts(f.jobs or ()) for f in facts}
    trained = train(runs, jobs=jobs, threads=1)
    chosen = {"failure_predicted": "baselines", "duration": "model"}
    report = {**trained_version()[1], "jobs": {"served": chosen}}
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs(list(facts))
        version = registry.promote(conn, registry.register(conn, trained, report).version).version
        assert registry.version(conn, version).job_duration_predictor == "model"
        for fact in facts[5:]:
            pk = run_pk_of(conn, fact.repository, fact.run_id, fact.attempt)
            assert pk is not None
            prediction = predict_for_run(conn, pk)
            assert prediction is not None
            record_prediction(conn, pk, prediction, mode="on", shown=True)
            ran = {j.name: j for j in job_attempts(fact.jobs or ())}
            wrong = []
            for predicted in predict_jobs_for_run(conn, pk):
                seconds = (ran[predicted.name].duration_s or 0.0) if predicted.name in ran else 0.0
                wrong.append(
                    dataclasses.replace(
                        predicted,
                        duration_p50=10 * seconds + 60,
                        duration_predictor="model",
                    )
                )
            record_job_predictions(conn, pk, wrong)
    strict = Settings.model_validate(
        {
            **settings.model_dump(),
            "intelligence": {"mode": "on", "accuracy_min_runs": 5, "accuracy_days": 3650},
        }
    )
    last = max(f.completed_at for f in facts if f.completed_at is not None)
    with engine.begin() as conn:
        found = live_accuracy(conn, 3650, last + timedelta(hours=1))
        assert found.job_duration_jobs >= 40
        assert found.served["job_duration"] == {"model": found.job_duration_jobs}
        assert found.job_duration["model"]["within_20"] == 0.0
        assert (found.job_duration["median5"]["within_20"] or 0.0) > 0.5
        made = check_live_accuracy(conn, strict, last + timedelta(hours=1))
    assert Demotion(version, "job_duration", "median5") in made
    with engine.connect() as conn:
        live = registry.live_version(conn)
        assert live is not None
        assert live.job_duration_predictor == "median5"
        assert Demotion(version, "job_duration", "median5") in demotions(conn)
        assert job_duration_model_of(live_models(conn)) is None
        problems = model_accuracy_problems(conn)
    assert any(p.title == "prediction of job duration demoted to a baseline" for p in problems)
    container = build(strict)
    try:
        with TestClient(create_app(container)) as client:
            overview = client.get("/").text
    finally:
        container.close()
    said = " ".join(overview.split("job durations within ±20%", 1)[1].split("·", 1)[0].split())
    assert said == "median of last 5 100.0%, previous run 100.0%, model 0.0%"  # live summary


def test_a_hypothetical_run_gets_its_workflows_expected_jobs(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    """``POST /api/v1/predict``: the jobs of the workflow's last completed run, as stored runs."""
    facts = _facts()
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs(list(facts))
    last = facts[-1]
    ask = {"repository": last.repository, "workflow": last.workflow, "branch": last.branch}
    response = client.post("/api/v1/predict", json=ask)
    assert response.status_code == 200, response.text
    jobs = response.json()["jobs"]
    now = dataclasses.replace(last, run_id="later", created_at=datetime.now(UTC))
    expected = _expected(facts, now)
    assert [j["name"] for j in jobs] == list(expected)
    for job in jobs:
        assert job["duration_p50"] == pytest.approx(expected[job["name"]])
        assert (job["failure_predictor"], job["actual_conclusion"]) == ("baselines", None)
    other = client.post("/api/v1/predict", json={**ask, "workflow": "no such workflow"})
    assert other.status_code == 404


class _SureToFail(JobFailureModel):
    """A job model sure that every job fails."""

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        return np.full(len(rows), 0.9)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.ones(len(rows), dtype=bool)

    def contributions(self, rows: np.ndarray) -> np.ndarray:
        return np.zeros((len(rows), len(JOB_INPUTS) + 1))


def test_the_served_jobs_are_held_to_their_run(engine: Engine, settings: Settings) -> None:
    """A job model sure every job fails, a run model giving the run 5 % and a pass: each job
    is served at 5 % and a pass (a run fails when one of its jobs does); without the run's
    figures, as the job model says."""
    _target, pk = _stored(engine, settings)
    with engine.connect() as conn:
        row = feature_row(conn, pk)
        assert row is not None
        held = predict_jobs_for_run(conn, pk, row, _SureToFail(), None, RunBound(0.05, False))
        free = predict_jobs_for_run(conn, pk, row, _SureToFail(), None)
    assert held
    assert {(j.failure_probability, j.failure_predicted) for j in held} == {(0.05, False)}
    assert {(j.failure_probability, j.failure_predicted) for j in free} == {(0.9, True)}
