"""Alert rules on metrics judged over stored runs, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from controltower.config import DEFAULT_RATES, AlertRule, Settings
from controltower.domain import RunFact
from controltower.integrations.alert_messages import Message, group_of
from controltower.integrations.channels import pagerduty_event
from controltower.store.tables import Alert, table_of
from controltower.store.writer import FactWriter
from controltower.telemetry.alerts import evaluate_decision
from controltower.telemetry.metric_rules import metric_problems
from controltower.telemetry.service import rate_table

alerts_t = table_of(Alert)
NOW = datetime.now(UTC).replace(microsecond=0)
RATES = rate_table(DEFAULT_RATES)


def _runs(
    repository: str, workflow: str, conclusions: str, *, first: int = 0, duration_s: float = 600
) -> list[RunFact]:
    """One run per letter of ``conclusions`` (s: success, f: failure), minutes apart, recent."""
    runs = []
    for i, letter in enumerate(conclusions):
        created = NOW - timedelta(hours=2, minutes=10 * i)
        runs.append(
            RunFact(
                repository=repository,
                run_id=f"{workflow}-{first + i}",
                workflow=workflow,
                branch="main",
                conclusion="success" if letter == "s" else "failure",
                created_at=created,
                started_at=created + timedelta(seconds=30),
                completed_at=created + timedelta(seconds=30 + duration_s),
                duration_s=duration_s,
                runner_labels=("ubuntu-latest",),
            )
        )
    return runs


def _store(engine: Engine, runs: list[RunFact]) -> None:
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs(runs)


FAILURE_RULE = AlertRule(
    name="CI failing often", metric="failure_rate", repository="org/*", workflow="CI", above=0.2
)


def test_failure_rate_rule_fires_only_where_past_threshold_with_enough_runs(engine: Engine) -> None:
    """4 failures in 10 runs is 40 %: a problem; a healthy workflow and a small sample are not."""
    _store(engine, _runs("org/app", "CI", "ffffssssss"))
    _store(engine, _runs("org/app", "lint", "ssssssssss"))
    _store(engine, _runs("org/web", "CI", "fff"))
    _store(engine, _runs("else/app", "CI", "ffffffffff"))
    with engine.connect() as conn:
        found = metric_problems(conn, [FAILURE_RULE], RATES, NOW)
    assert [(p.kind, p.severity, p.repository, p.rule, p.title) for p in found] == [
        (
            "metric",
            "warning",
            "org/app",
            "CI failing often",
            "failure rate of org/app CI is 40 % over the last 24 h, above 20 %",
        )
    ]
    assert found[0].workflow_id is not None


def test_rule_repositories_match_in_any_case(engine: Engine) -> None:
    """As on GitHub, ``Org/App`` is the stored ``org/app``: a rule's repository, glob or exact,
    matches in any case."""
    _store(engine, _runs("org/app", "CI", "ffffssssss"))
    rules = [
        FAILURE_RULE.model_copy(update={"name": "glob", "repository": "ORG/*"}),
        FAILURE_RULE.model_copy(update={"name": "exact", "repository": "Org/App"}),
        FAILURE_RULE.model_copy(update={"name": "other", "repository": "Org/Web"}),
    ]
    with engine.connect() as conn:
        found = metric_problems(conn, rules, RATES, NOW)
    assert sorted((p.rule, p.repository) for p in found) == [
        ("exact", "org/app"),
        ("glob", "org/app"),
    ]


def test_metric_alert_stays_one_while_its_figure_moves_and_resolves_when_clear(
    engine: Engine, tmp_path: Path
) -> None:
    """A changing figure updates one alert without notifying; falling below resolves it.

    Its notification is grouped, and named to PagerDuty, by its repository, not its rule."""
    settings = Settings(data_dir=tmp_path, alerts={"rules": [FAILURE_RULE.model_dump()]})
    _store(engine, _runs("org/app", "CI", "ffffssssss"))
    first = evaluate_decision(engine, settings, NOW)
    assert [(n.event, n.severity, n.title) for n in first.send] == [
        (
            "firing",
            "warning",
            "failure rate of org/app CI is 40 % over the last 24 h, above 20 %",
        )
    ]
    (fired,) = first.send
    assert (group_of(fired, "repository"), fired.repository) == ("org/app", "org/app")
    assert pagerduty_event("K", Message((fired,)))["payload"]["component"] == "org/app"
    _store(engine, _runs("org/app", "CI", "f", first=10))
    assert evaluate_decision(engine, settings, NOW).send == []
    with engine.connect() as conn:
        row = conn.execute(select(alerts_t)).one()
    assert row.title == "failure rate of org/app CI is 45 % over the last 24 h, above 20 %"
    assert (row.rule, row.repository) == ("CI failing often", "org/app")
    _store(engine, _runs("org/app", "CI", "s" * 20, first=20))
    resolved = evaluate_decision(engine, settings, NOW)
    assert [(n.event, n.repository) for n in resolved.send] == [("resolved", "org/app")]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alerts_t)).scalar_one() == 1


def test_duration_queue_and_cost_rules_read_their_own_figures(engine: Engine) -> None:
    """p95 duration above, cost per day above and p50 below each judge the figure they name."""
    _store(engine, _runs("org/app", "build", "ssssssssss", duration_s=900))
    rules = [
        AlertRule(name="slow", metric="duration_p95", workflow="build", above=600),
        AlertRule(name="fast", metric="duration_p50", workflow="build", below=1200),
        AlertRule(name="costly", metric="cost_per_day", above=0.5, severity="critical"),
        AlertRule(name="queued", metric="queue_p95", above=3600),
    ]
    with engine.connect() as conn:
        found = metric_problems(conn, rules, RATES, NOW)
    usd = 10 * 15 * RATES.rate("linux", NOW.date())
    assert [(p.rule, p.severity, p.title) for p in found] == [
        (
            "slow",
            "warning",
            "p95 duration of successful runs of org/app build is 15 min over the last 24 h, "
            "above 10 min",
        ),
        (
            "fast",
            "warning",
            "median duration of successful runs of org/app build is 15 min "
            "over the last 24 h, below 20 min",
        ),
        (
            "costly",
            "critical",
            f"cost per day of org/app build is ${usd:,.2f} over the last 24 h, above $0.50",
        ),
    ]


def test_a_single_run_is_counted_in_the_singular(engine: Engine) -> None:
    """A rule judging one run says "1 run in the window"."""
    _store(engine, _runs("org/app", "CI", "f"))
    rule = FAILURE_RULE.model_copy(update={"min_runs": 1})
    with engine.connect() as conn:
        (found,) = metric_problems(conn, [rule], RATES, NOW)
    assert found.detail == "1 run in the window; rule 'CI failing often'"


def test_runs_outside_the_window_are_not_judged(engine: Engine) -> None:
    """A rule over the last hour ignores failures from two hours ago."""
    _store(engine, _runs("org/app", "CI", "ffffffffff"))
    rule = FAILURE_RULE.model_copy(update={"window_hours": 1.0})
    with engine.connect() as conn:
        assert metric_problems(conn, [rule], RATES, NOW) == []
