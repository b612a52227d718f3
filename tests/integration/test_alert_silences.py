"""Silences and acknowledgements decide which alert notifications leave (SQLite, PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from controltower.config import AlertRule
from controltower.errors import AlertNotFound, AlertNotOpen, InvalidSilence, SilenceNotFound
from controltower.store.tables import Alert, Silence, table_of
from controltower.telemetry.acknowledgements import acknowledge, unacknowledge
from controltower.telemetry.activity import Problem
from controltower.telemetry.alert_records import get_alert, list_alerts
from controltower.telemetry.alerts import evaluate
from controltower.telemetry.silences import (
    SilenceRequest,
    create_silence,
    expire_silence,
    list_silences,
)
from controltower.telemetry.suppression import Decision, decide

alerts_t, silences_t = table_of(Alert), table_of(Silence)
RULES = [AlertRule(name="all problems")]
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
FAILING = Problem("failing-branch", "warning", "CI is failing on main", "x", T0, "org/app", 7)
OTHER = Problem("failing-branch", "warning", "lint is failing on main", "y", T0, "org/web", 8)


def _evaluate(engine: Engine, found: list[Problem], now: datetime) -> Decision:
    with engine.begin() as conn:
        return decide(conn, evaluate(conn, found, RULES, now), now)


def _silence(
    engine: Engine, now: datetime, kind: str = "*", repository: str = "*", rule: str | None = None
) -> int:
    request = SilenceRequest(
        reason="deploy freeze",
        created_by="ana",
        duration=timedelta(hours=1),
        kind=kind,
        repository=repository,
        rule=rule,
    )
    with engine.begin() as conn:
        return create_silence(conn, request, now).id


def _events(decision: Decision) -> list[tuple[str, str]]:
    return [(n.event, n.title) for n in decision.send]


def test_a_silenced_alert_is_recorded_but_neither_fires_nor_resolves_aloud(engine: Engine) -> None:
    """Under a silence the alert is stored and marked; its firing and resolve are held, with why."""
    silence_id = _silence(engine, T0, repository="org/*", kind="failing-*")
    decision = _evaluate(engine, [FAILING, OTHER], T0)
    assert _events(decision) == []
    assert [s.silence_id for s in decision.suppressed] == [silence_id, silence_id]
    assert decision.suppressed[0].reason.startswith(f"silenced by silence {silence_id} until")
    assert decision.suppressed[0].reason.endswith("deploy freeze")
    with engine.connect() as conn:
        shown = list_alerts(conn, T0 + timedelta(minutes=1))
    assert [(a.title, a.silenced, a.silenced_by) for a in shown] == [
        ("lint is failing on main", True, silence_id),
        ("CI is failing on main", True, silence_id),
    ]
    resolved = _evaluate(engine, [OTHER], T0 + timedelta(minutes=5))
    assert resolved.send == []
    assert [s.notification.event for s in resolved.suppressed] == ["resolved"]


def test_matchers_narrow_a_silence_to_rule_key_and_repository(engine: Engine) -> None:
    """A silence on one repository leaves the other notifying; one on another rule holds none."""
    _silence(engine, T0, repository="org/app")
    _silence(engine, T0, rule="some other rule")
    decision = _evaluate(engine, [FAILING, OTHER], T0)
    assert _events(decision) == [("firing", "lint is failing on main")]
    assert [s.notification.title for s in decision.suppressed] == ["CI is failing on main"]


def test_an_expired_silence_stays_as_history_and_stops_holding(engine: Engine) -> None:
    """Ending a silence early keeps its row; the alert still firing is announced, then resolves."""
    silence_id = _silence(engine, T0, kind="*")
    assert _evaluate(engine, [FAILING], T0).send == []
    later = T0 + timedelta(minutes=10)
    with engine.begin() as conn:
        ended = expire_silence(conn, silence_id, later)
    assert ended.ends_at == later
    assert ended.expired_at == later
    assert _events(_evaluate(engine, [FAILING], later)) == [("firing", "CI is failing on main")]
    assert _evaluate(engine, [FAILING], later + timedelta(minutes=1)).send == []
    assert _events(_evaluate(engine, [], later + timedelta(minutes=2))) == [
        ("resolved", "CI is failing on main")
    ]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(silences_t)).scalar_one() == 1
        kept = list_silences(conn, later + timedelta(days=1))
        assert [s.id for s in kept] == [silence_id]
        assert list_silences(conn, later + timedelta(days=1), active_only=True) == []


def test_an_alert_that_began_under_a_silence_fires_when_the_silence_runs_out(
    engine: Engine,
) -> None:
    """Still firing when its silence ends by itself: announced once at the next evaluation,
    at its severity then; another alert that began and cleared under it never resolves aloud."""
    _silence(engine, T0)  # one hour
    assert _evaluate(engine, [FAILING, OTHER], T0).send == []
    worse = replace(FAILING, severity="critical")
    assert _evaluate(engine, [worse], T0 + timedelta(minutes=30)).send == []
    after = T0 + timedelta(hours=1)
    released = _evaluate(engine, [worse], after)
    assert [(n.event, n.severity, n.title) for n in released.send] == [
        ("firing", "critical", "CI is failing on main")
    ]
    assert _evaluate(engine, [worse], after + timedelta(minutes=1)).send == []


def test_a_resolve_is_held_when_the_firing_was_never_notified(engine: Engine) -> None:
    """Fired and cleared under a silence that has since ended: no RESOLVED for it, with why."""
    silence_id = _silence(engine, T0)
    assert _evaluate(engine, [FAILING], T0).send == []
    with engine.begin() as conn:
        expire_silence(conn, silence_id, T0 + timedelta(minutes=1))
    cleared = _evaluate(engine, [], T0 + timedelta(minutes=1))
    assert cleared.send == []
    assert [(s.notification.event, s.reason) for s in cleared.suppressed] == [
        ("resolved", "its firing was never notified")
    ]


def test_a_resolve_a_silence_held_is_sent_when_it_ends_if_the_firing_was_notified(
    engine: Engine,
) -> None:
    """Notified, silenced, cleared under the silence: its RESOLVED leaves when the silence runs
    out (closing the incident the firing opened), once; none for a condition that came back."""
    assert _events(_evaluate(engine, [FAILING, OTHER], T0)) == [
        ("firing", "CI is failing on main"),
        ("firing", "lint is failing on main"),
    ]
    _silence(engine, T0 + timedelta(minutes=1))  # one hour
    held = _evaluate(engine, [], T0 + timedelta(minutes=2))
    assert held.send == []
    assert [s.notification.event for s in held.suppressed] == ["resolved", "resolved"]
    back = _evaluate(engine, [OTHER], T0 + timedelta(minutes=3))  # lint fails again
    assert back.send == []
    after = T0 + timedelta(hours=1, minutes=1)
    released = _evaluate(engine, [OTHER], after)
    assert [(n.event, n.title, n.severity) for n in released.send] == [
        ("resolved", "CI is failing on main", "warning"),
        ("firing", "lint is failing on main", "warning"),
    ]
    assert _evaluate(engine, [OTHER], after + timedelta(minutes=1)).send == []


def test_an_acknowledged_alert_does_not_notify_escalation_but_does_resolve(engine: Engine) -> None:
    """Acknowledged: growing worse is held; the resolve is sent; its recurrence is a new alert."""
    _evaluate(engine, [FAILING], T0)
    with engine.begin() as conn:
        alert_id = conn.execute(select(alerts_t.c.id)).scalar_one()
        acked = acknowledge(conn, alert_id, "bo", "looking into it", T0 + timedelta(minutes=1))
    assert (acked.acknowledged, acked.acknowledged_by, acked.ack_note) == (
        True,
        "bo",
        "looking into it",
    )
    worse = replace(FAILING, severity="critical")
    escalated = _evaluate(engine, [worse], T0 + timedelta(minutes=2))
    assert escalated.send == []
    assert escalated.suppressed[0].reason.startswith("acknowledged by bo at")
    with engine.connect() as conn:
        assert get_alert(conn, alert_id, T0).severity == "critical"
    assert _events(_evaluate(engine, [], T0 + timedelta(minutes=3))) == [
        ("resolved", "CI is failing on main")
    ]
    back = _evaluate(engine, [FAILING], T0 + timedelta(minutes=4))
    assert _events(back) == [("firing", "CI is failing on main")]
    with engine.connect() as conn:
        newest = list_alerts(conn, T0, state="firing")
    assert [(a.id != alert_id, a.acknowledged) for a in newest] == [(True, False)]


def test_unacknowledging_lets_escalation_notify_again(engine: Engine) -> None:
    """After an acknowledgement is taken back, growing worse is notified."""
    _evaluate(engine, [FAILING], T0)
    with engine.begin() as conn:
        alert_id = conn.execute(select(alerts_t.c.id)).scalar_one()
        acknowledge(conn, alert_id, "bo", None, T0)
        cleared = unacknowledge(conn, alert_id, T0)
    assert (cleared.acknowledged, cleared.acknowledged_by) == (False, None)
    worse = replace(FAILING, severity="critical")
    assert _events(_evaluate(engine, [worse], T0 + timedelta(minutes=1))) == [
        ("firing", "CI is failing on main")
    ]


def test_an_escalation_held_by_an_acknowledgement_leaves_when_it_is_taken_back(
    engine: Engine,
) -> None:
    """Acknowledged, grown critical (held), unacknowledged: critical is notified next time, once."""
    _evaluate(engine, [FAILING], T0)
    with engine.begin() as conn:
        alert_id = conn.execute(select(alerts_t.c.id)).scalar_one()
        acknowledge(conn, alert_id, "bo", None, T0)
    worse = replace(FAILING, severity="critical")
    assert _evaluate(engine, [worse], T0 + timedelta(minutes=1)).send == []
    with engine.begin() as conn:
        unacknowledge(conn, alert_id, T0 + timedelta(minutes=2))
    released = _evaluate(engine, [worse], T0 + timedelta(minutes=3))
    assert [(n.event, n.severity) for n in released.send] == [("firing", "critical")]
    assert _evaluate(engine, [worse], T0 + timedelta(minutes=4)).send == []


def test_refused_changes_change_nothing(engine: Engine) -> None:
    """Unknown ids, resolved alerts and unusable silences are refused and store nothing."""
    _evaluate(engine, [FAILING], T0)
    _evaluate(engine, [], T0 + timedelta(minutes=1))
    with engine.begin() as conn:
        alert_id = conn.execute(select(alerts_t.c.id)).scalar_one()
        with pytest.raises(AlertNotOpen):
            acknowledge(conn, alert_id, "bo", None, T0)
        with pytest.raises(AlertNotFound):
            acknowledge(conn, alert_id + 100, "bo", None, T0)
        with pytest.raises(SilenceNotFound):
            expire_silence(conn, 12345, T0)
        for request in (
            SilenceRequest(reason=" ", created_by="ana", duration=timedelta(hours=1)),
            SilenceRequest(reason="x", created_by="ana"),
            SilenceRequest(reason="x", created_by="ana", ends_at=T0 - timedelta(hours=1)),
            SilenceRequest(reason="x", created_by="ana", ends_at=T0, duration=timedelta(hours=1)),
        ):
            with pytest.raises(InvalidSilence):
                create_silence(conn, request, T0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(silences_t)).scalar_one() == 0
        assert get_alert(conn, alert_id, T0).acknowledged is False


def test_listing_filters_by_state_severity_acknowledgement_and_silence(engine: Engine) -> None:
    """Filters select what they name; firing alerts come before resolved ones; pages slice."""
    critical = Problem("ingest-failed", "critical", "2 deliveries failed", "z")
    _evaluate(engine, [FAILING, OTHER, critical], T0)
    _evaluate(engine, [FAILING, critical], T0 + timedelta(minutes=1))
    _silence(engine, T0, repository="org/app")
    now = T0 + timedelta(minutes=2)
    with engine.begin() as conn:
        failing_id = next(a.id for a in list_alerts(conn, now) if a.repository == "org/app")
        acknowledge(conn, failing_id, "cy", None, now)
        everything = list_alerts(conn, now, state="all")
        assert [(a.state, a.severity) for a in everything] == [
            ("firing", "critical"),
            ("firing", "warning"),
            ("resolved", "warning"),
        ]
        assert [a.title for a in list_alerts(conn, now, state="resolved")] == [OTHER.title]
        assert [a.id for a in list_alerts(conn, now, acknowledged=True)] == [failing_id]
        assert [a.id for a in list_alerts(conn, now, silenced=True)] == [failing_id]
        assert [a.kind for a in list_alerts(conn, now, silenced=False)] == ["ingest-failed"]
        assert [a.kind for a in list_alerts(conn, now, severity="critical")] == ["ingest-failed"]
        paged = list_alerts(conn, now, state="all", limit=1, offset=1)
        assert [a.id for a in paged] == [everything[1].id]


def test_a_firing_released_by_a_silence_keeps_the_cause_it_shares(engine: Engine) -> None:
    """An alert of a cause shared across repositories, held by a silence: once the silence
    ends, its firing, and later its resolve, still travel under the shared cause's group."""
    cause = "queue time rise in several repositories, likely one cause outside them"
    shared = replace(FAILING, group=cause)
    silence_id = _silence(engine, T0, repository="org/app")
    assert _evaluate(engine, [shared], T0).send == []
    later = T0 + timedelta(minutes=10)
    with engine.begin() as conn:
        expire_silence(conn, silence_id, later)
    released = _evaluate(engine, [shared], later).send
    assert [(n.event, n.group) for n in released] == [("firing", cause)]
    resolved = _evaluate(engine, [], later + timedelta(minutes=1)).send
    assert [(n.event, n.group) for n in resolved] == [("resolved", cause)]
