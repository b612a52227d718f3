"""Alerts over any sequence of evaluations (hypothesis): each condition fires once when it
appears, again only when it grows worse, resolves once when it clears, and is never open
twice; a rule with a least severity keeps open an alert whose problem dips below it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from controltower.config import AlertRule
from controltower.store import schema
from controltower.store.engine import make_engine
from controltower.store.tables import Alert, table_of
from controltower.telemetry.activity import Problem
from controltower.telemetry.alerts import alert_key, evaluate
from controltower.telemetry.suppression import RANK

alerts_t = table_of(Alert)
SEVERITIES = ("info", "warning", "critical")
REPOSITORIES = tuple(f"octo/app-{i}" for i in range(4))
START = datetime(2026, 11, 1, tzinfo=UTC)
# A round: the severity of each condition active then (a repository's anomaly), none if absent.
ROUNDS = st.lists(
    st.dictionaries(st.sampled_from(REPOSITORIES), st.sampled_from(SEVERITIES), max_size=4),
    min_size=1,
    max_size=8,
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder: Path = tmp_path_factory.mktemp("alerts")
    engine = make_engine(f"sqlite:///{folder / 'ct.db'}")
    schema.upgrade(engine)
    yield engine
    engine.dispose()


def _problem(repository: str, severity: str) -> Problem:
    return Problem(
        kind="anomaly",
        severity=severity,
        title=f"duration of {repository} rose ({severity})",
        detail="",
        since=START,
        repository=repository,
        subject="duration rise",
    )


def _replay(
    engine: Engine, rounds: list[dict[str, str]], rules: list[AlertRule]
) -> list[tuple[dict[str, str], list[tuple[str, str, str]], dict[str, str]]]:
    """Each round's problems, the notifications it gave (key, event, severity) and the open
    alerts after it (key: severity), from an empty table."""
    seen: list[tuple[dict[str, str], list[tuple[str, str, str]], dict[str, str]]] = []
    with engine.begin() as conn:
        conn.execute(delete(alerts_t))
    for i, round_ in enumerate(rounds):
        found = [_problem(repository, severity) for repository, severity in round_.items()]
        with engine.begin() as conn:
            sent = evaluate(conn, found, rules, START + timedelta(minutes=i))
            rows = conn.execute(
                select(alerts_t.c.key, alerts_t.c.severity).where(alerts_t.c.resolved_at.is_(None))
            ).all()
        keys = [row.key for row in rows]
        assert len(keys) == len(set(keys)), "an alert open twice"
        notified = [(n.key, str(n.event), n.severity) for n in sent]
        seen.append((round_, notified, {row.key: row.severity for row in rows}))
    return seen


def _key(repository: str) -> str:
    return alert_key(_problem(repository, "info"))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(rounds=ROUNDS)
def test_every_condition_fires_once_grows_louder_and_resolves_once(
    engine: Engine, rounds: list[dict[str, str]]
) -> None:
    """With a rule for every severity: open exactly while active, at its latest severity; a
    firing when it appears or its severity rose since the last round, a resolve when it is
    gone; nothing else."""
    rules = [AlertRule(name="all", kinds=["*"], min_severity="info")]
    open_before: dict[str, str] = {}
    for round_, sent, open_after in _replay(engine, rounds, rules):
        active = {_key(r): s for r, s in round_.items()}
        expected = [
            (key, "firing", severity)
            for key, severity in active.items()
            if key not in open_before or RANK[severity] > RANK[open_before[key]]
        ] + [(key, "resolved") for key in open_before if key not in active]
        got = [(k, e, s) if e == "firing" else (k, e) for k, e, s in sent]
        assert sorted(got, key=str) == sorted(expected, key=str)
        assert open_after == active
        open_before = open_after


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(rounds=ROUNDS)
def test_a_condition_dipping_under_its_rule_stays_open_until_it_is_gone(
    engine: Engine, rounds: list[dict[str, str]]
) -> None:
    """With a rule from warning up: a condition fires once it reaches warning, stays open
    while active even at info, and resolves only when it is gone."""
    rules = [AlertRule(name="loud", kinds=["*"], min_severity="warning")]
    open_before: set[str] = set()
    for round_, sent, open_after in _replay(engine, rounds, rules):
        active = {_key(r): s for r, s in round_.items()}
        loud = {key for key, severity in active.items() if severity != "info"}
        expected_open = loud | (open_before & set(active))
        assert set(open_after) == expected_open
        resolved = {k for k, e, _ in sent if e == "resolved"}
        assert resolved == open_before - set(active)
        fired = {k for k, e, _ in sent if e == "firing"}
        assert loud - open_before <= fired <= loud
        open_before = set(open_after)
