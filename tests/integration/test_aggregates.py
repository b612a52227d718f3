"""The store's aggregate queries give the figures the pure definitions give, on real history.

The reference side computes metrics and cost straight from the parsed history
records with the pure functions (``metrics.by_group``, ``cost.job_cost``), the
other side is what the API and pages use: aggregate queries over the store.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from controltower.config import DEFAULT_RATES
from controltower.domain import RunFact
from controltower.ingest.history import parse_record
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.writer import FactWriter
from controltower.telemetry import service
from controltower.telemetry.cost import job_cost, runner_sku
from controltower.telemetry.metrics import Attempt, Window, by_group
from controltower.telemetry.scope import Filters
from tests.support.paths import DATASETS
from tests.support.services import DATABASES, database

LABELS: dict[str, Callable[[RunFact], str]] = {
    "repository": lambda r: r.repository,
    "workflow": lambda r: f"{r.repository} · {r.workflow}",
    "branch": lambda r: f"{r.repository} · {r.branch or ''}",
}


@pytest.fixture(scope="module")
def facts() -> list[RunFact]:
    """The real GitHub Actions history with jobs and steps."""
    path = DATASETS / "gha-microservices-5repos.jsonl.gz"
    with gzip.open(path, "rt") as lines:
        return [parse_record(json.loads(line)).fact for line in lines]


@pytest.fixture(scope="module", params=DATABASES)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, facts: list[RunFact]
) -> Iterator[Engine]:
    """A migrated store the history is written to once per database; the tests only read it."""
    with database(request.param, tmp_path_factory.mktemp("aggregates")) as url:
        engine = make_engine(url)
        schema.upgrade(engine)
        with engine.begin() as conn:
            FactWriter(conn).upsert_runs(facts)
        yield engine
        engine.dispose()


def _window(facts: list[RunFact], days: int) -> Window:
    newest = max(f.created_at for f in facts if f.created_at)
    return Window(newest - timedelta(days=days), newest + timedelta(seconds=1))


def _in(window: Window, fact: RunFact) -> bool:
    return fact.created_at is not None and window.start <= fact.created_at < window.end


def _attempts(facts: list[RunFact], window: Window, label: str) -> list[Attempt]:
    return [
        Attempt(
            LABELS[label](f),
            f"{f.repository}#{f.run_id}",
            f.attempt,
            f.conclusion,
            f.created_at,
            f.started_at,
            f.duration_s,
            f.head_sha,
        )
        for f in facts
        if _in(window, f)
    ]


@pytest.mark.parametrize("group", ["repository", "workflow", "branch"])
def test_metrics_match_the_pure_definition(
    engine: Engine, facts: list[RunFact], group: str
) -> None:
    """Every figure of every group, and its change, equals ``by_group`` over the records."""
    window = _window(facts, 90)
    expected = by_group(_attempts(facts, window, group), _attempts(facts, window.previous(), group))
    with engine.connect() as conn:
        actual = service.metrics(conn, window, Filters(), group)
        days = service.trend(conn, window, Filters())
        total = service.total(conn, window, Filters())
    assert len(expected) >= 5
    assert {g.group: g for g in actual} == {g.group: g for g in expected}
    by_day = defaultdict(list)
    for a in _attempts(facts, window, "repository"):
        assert a.created_at is not None
        by_day[a.created_at.date().isoformat()].append(a)
    assert [d.group for d in days] == sorted(by_day)
    assert sum(d.current.attempts for d in days) == total.attempts
    assert total.runs == len({a.run_key for a in _attempts(facts, window, group)})


def test_cost_matches_pricing_each_job(engine: Engine, facts: list[RunFact]) -> None:
    """Totals by repository, day and runner equal pricing every job with ``job_cost``."""
    window = _window(facts, 120)
    rates = service.rate_table(DEFAULT_RATES)
    by_repository: dict[str, float] = defaultdict(float)
    by_day: dict[date, float] = defaultdict(float)
    minutes = estimated = 0
    for f in facts:
        if not _in(window, f):
            continue
        assert f.created_at is not None
        day = f.created_at.date()
        if not f.jobs:
            billed = math.ceil(f.duration_s / 60) if f.duration_s else 0
            rate = rates.rate(runner_sku(f.runner_labels, f.runner_os), day)
            priced = [(billed, billed * rate, day)]
            estimated += 1
        else:
            known = any(job.steps for job in f.jobs)
            priced = []
            for job in f.jobs:
                item = job_cost(job, rates, fallback_day=day, steps_known=known)
                stamp = job.started_at or job.completed_at or job.created_at
                priced.append((item.minutes, item.usd, stamp.date() if stamp else day))
        for billed, usd, when in priced:
            minutes += billed
            by_repository[f.repository] += usd
            by_day[when] += usd
    with engine.connect() as conn:
        report = service.cost(conn, window, Filters(), rates)
    assert report.billed_minutes == minutes > 1000
    assert report.runs_estimated == estimated
    assert report.by_repository == pytest.approx(dict(by_repository))
    assert {d: v for d, v in report.by_day.items() if v} == pytest.approx(
        {d: v for d, v in by_day.items() if v}
    )
