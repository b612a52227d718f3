"""Recorded anomalies on SQLite and PostgreSQL: idempotent, resolved, served and surfaced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from huey import MemoryHuey
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from controltower.anomaly.recording import detect_and_record
from controltower.bootstrap import build
from controltower.bootstrap.queue import anomaly_pass, register_tasks
from controltower.config import Settings
from controltower.errors import AnomalyNotFound, InvalidVerdict
from controltower.ingest.history import parse_record
from controltower.store.anomalies import (
    active_anomalies,
    anomalies_since,
    anomalies_t,
    confirmed_anomalies,
    count_active_anomalies,
    get_anomaly,
    open_changes,
    recent_anomalies,
    record,
    set_verdict,
)
from controltower.store.writer import FactWriter
from controltower.telemetry import activity, anomaly_words
from controltower.telemetry.alerts import alerts_t, evaluate_store
from controltower.telemetry.metrics import Window
from controltower.telemetry.scope import Filters
from controltower.web import create_app
from tests.integration.test_anomaly_series import RATE, _daily_runs, _history, _run

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _row(
    series: str, kind: str = "level_shift", severity: str = "warning", **extra: Any
) -> dict[str, Any]:
    return {
        "series": series,
        "metric": "duration",
        "unit": "s",
        "kind": kind,
        "severity": severity,
        "started_at": NOW - timedelta(days=2),
        "detected_at": NOW - timedelta(days=1),
        "expected": 600.0,
        "observed": 900.0,
        "score": 9.5,
        "usd_per_month": None,
        "trigger": {"commit": "abc"},
        **extra,
    }


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(anomalies_t)).scalar_one())


def test_recording_is_idempotent_and_resolves_what_ended(engine: Engine) -> None:
    """The same anomaly twice is one row; absent from a later pass it is resolved, then back."""
    with engine.begin() as conn:
        first = record(conn, [_row("a · CI"), _row("b · CI", severity="critical")], NOW)
    with engine.begin() as conn:
        again = record(
            conn, [_row("a · CI", observed=950.0), _row("b · CI")], NOW + timedelta(hours=1)
        )
    assert (first.new, again.new, again.resolved) == (2, 0, 0)
    assert _count(engine) == 2
    with engine.connect() as conn:
        active = active_anomalies(conn, 10)
    assert [a.series for a in active] == ["a · CI", "b · CI"]  # b was downgraded to warning
    with engine.connect() as conn:
        assert (len(active_anomalies(conn, 1)), count_active_anomalies(conn)) == (1, 2)
    assert active[0].observed == 950.0
    assert active[0].first_seen_at == NOW
    assert active[0].trigger == {"commit": "abc"}
    with engine.begin() as conn:
        ended = record(conn, [_row("b · CI", severity="critical")], NOW + timedelta(hours=2))
    assert ended.resolved == 1
    with engine.connect() as conn:
        active = active_anomalies(conn, 10)
        assert [a.series for a in active] == ["b · CI"]
        assert active_anomalies(conn, 0) == []
        assert count_active_anomalies(conn) == 1
    with engine.begin() as conn:
        back = record(conn, [_row("a · CI"), _row("b · CI")], NOW + timedelta(hours=3))
    assert (back.new, back.resolved, _count(engine)) == (0, 0, 2)


def test_detection_over_the_store_records_the_slowdown_once(engine: Engine) -> None:
    """The slowdown at run 150 of 200 is recorded as a level shift; a second pass adds nothing."""
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in _history()])
    first = detect_and_record(engine, lambda _s, _d: RATE, now=NOW)
    second = detect_and_record(engine, lambda _s, _d: RATE, now=NOW + timedelta(minutes=15))
    assert first.new >= 1
    assert (second.new, second.resolved) == (0, 0)
    with engine.connect() as conn:
        active = active_anomalies(conn, 50)
    shifts = [a for a in active if a.metric == "duration" and a.kind == "level_shift"]
    assert len(shifts) == 1
    assert shifts[0].severity == "critical"
    assert shifts[0].trigger is not None
    assert shifts[0].trigger["commit"] == "sha150"


@pytest.mark.parametrize(("most", "told"), [("warning", "warning"), ("critical", "critical")])
def test_the_recorders_pass_tells_a_spike_at_most_the_configured_severity(
    engine: Engine, settings: Settings, most: str, told: str
) -> None:
    """One run of ten minutes that took an hour: critical by its size and its seconds, told as
    a warning by the default settings and as critical where spikes may page."""
    runs = [_run(i, 3600 if i == 190 else 600 + (i * 37) % 60) for i in range(200)]
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in runs])
    configured = settings.model_copy(
        update={"anomaly": settings.anomaly.model_copy(update={"spike_max_severity": most})}
    )
    anomaly_pass(engine, configured, history=True, now=NOW)
    with engine.connect() as conn:
        query = select(anomalies_t.c.metric, anomalies_t.c.severity)
        spikes = conn.execute(query.where(anomalies_t.c.kind == "spike")).all()
    assert [(a.metric, a.severity) for a in spikes] == [("duration", told)]


def test_active_anomalies_are_problems_when_asked(engine: Engine, settings: Settings) -> None:
    """problems(anomalies=True) adds one of kind anomaly per active anomaly; without, none."""
    with engine.begin() as conn:
        record(conn, [_row("octo/app · CI", severity="critical")], NOW)
    window = Window(NOW - timedelta(days=30), NOW)
    with engine.connect() as conn:
        found, _count_all = activity.problems(
            conn, window, Filters(), settings.telemetry, now=NOW, anomalies=True
        )
        plain, _ = activity.problems(conn, window, Filters(), settings.telemetry, now=NOW)
    [problem] = [p for p in found if p.kind == "anomaly"]
    assert problem.severity == "critical"
    assert problem.repository == "octo/app"
    assert "+50%" in problem.detail
    assert not [p for p in plain if p.kind == "anomaly"]


def test_anomalies_of_one_cause_across_repositories_alert_under_one_group(
    engine: Engine, settings: Settings
) -> None:
    """Queue times of two repositories jumping at once, told shared: their alerts carry the
    same group, naming the cause, and the detail names the other repository; one of its own
    carries none. Once the anomalies are over, the resolves travel under the same groups."""
    shared = {"shared_repositories": "1", "shared_within": "3 h", "shared_chance": "0.001"}
    since = (NOW - timedelta(days=2)).isoformat()
    rows = [
        _row(
            f"org/{me} · CI",
            kind="spike",
            metric="queue",
            trigger={"shared_with": f"org/{other}", "shared_since": since, **shared},
        )
        for me, other in (("a", "b"), ("b", "a"))
    ]
    with engine.begin() as conn:
        record(conn, [*rows, _row("org/c · CI")], NOW)
    notifications = evaluate_store(engine, settings, now=NOW)
    groups = {n.repository: n.group for n in notifications if n.key.startswith("anomaly")}
    assert (
        groups["org/a"]
        == groups["org/b"]
        == (
            f"queue time rise in several repositories from {NOW - timedelta(days=2):%Y-%m-%d %H:%M}"
            " UTC, likely one cause outside them"
        )
    )
    assert groups["org/c"] is None
    detail = {n.repository: n.detail for n in notifications}["org/a"]
    assert "also in 1 other repository within 3 h (org/b)" in detail
    later = NOW + timedelta(hours=1)
    with engine.begin() as conn:
        record(conn, [], later)
    resolves = evaluate_store(engine, settings, now=later)
    assert {n.repository: (n.event, n.group) for n in resolves} == {
        repository: ("resolved", group) for repository, group in groups.items()
    }


def test_a_change_judged_again_keeps_its_alert_and_a_recovery_opens_another(
    engine: Engine, settings: Settings
) -> None:
    """A slowdown told as a level shift, then (a second look at its kind) as a drift: one
    condition, so its alert stays open and nothing is sent again, its title saying drift now.
    The recovery after it (a fall) resolves the slowdown's alert and opens its own."""
    with engine.begin() as conn:
        record(conn, [_row("org/a · CI", severity="critical")], NOW)
    fired = evaluate_store(engine, settings, now=NOW)
    assert [(n.event, n.title) for n in fired] == [
        ("firing", "level shift in duration of org/a · CI")
    ]
    later = NOW + timedelta(hours=1)
    with engine.begin() as conn:
        record(conn, [_row("org/a · CI", kind="drift", severity="critical")], later)
    assert evaluate_store(engine, settings, now=later) == []
    with engine.connect() as conn:
        titles = conn.execute(select(alerts_t.c.title).where(alerts_t.c.resolved_at.is_(None)))
        assert titles.scalars().all() == ["drift in duration of org/a · CI"]
    recovered = later + timedelta(hours=1)
    fall = _row(
        "org/a · CI",
        severity="critical",
        started_at=recovered - timedelta(hours=2),
        expected=900.0,
        observed=600.0,
    )
    with engine.begin() as conn:
        record(conn, [fall], recovered)
    assert sorted((n.event, n.title) for n in evaluate_store(engine, settings, now=recovered)) == [
        ("firing", "level shift in duration of org/a · CI"),
        ("resolved", "drift in duration of org/a · CI"),
    ]


def test_a_change_judged_again_is_the_same_row_with_its_verdict(engine: Engine) -> None:
    """A rise told as a level shift and confirmed, then judged a drift dated a day earlier
    (the same alarm, the same way): one row, the same id, a drift now, still confirmed and
    active, nothing new nor resolved. A fall with the same alarm is another change; a rise
    told again once its row resolved starts a row of its own."""
    with engine.begin() as conn:
        record(conn, [_row("org/a · CI")], NOW)
        [first] = conn.execute(select(anomalies_t.c.id)).scalars().all()
        set_verdict(conn, first, "confirmed", "ana", "real", NOW)
    later = NOW + timedelta(hours=1)
    drift = _row("org/a · CI", kind="drift", started_at=NOW - timedelta(days=3), observed=950.0)
    with engine.begin() as conn:
        report = record(conn, [drift], later)
    assert (report.seen, report.new, report.resolved) == (1, 0, 0)
    with engine.connect() as conn:
        rows = conn.execute(select(anomalies_t)).all()
    assert [(r.id, r.kind, r.observed, r.verdict, r.resolved_at) for r in rows] == [
        (first, "drift", 950.0, "confirmed", None)
    ]
    assert rows[0].started_at.replace(tzinfo=None) == (NOW - timedelta(days=3)).replace(tzinfo=None)
    assert rows[0].first_seen_at.replace(tzinfo=None) == NOW.replace(tzinfo=None)
    fall = _row("org/a · CI", expected=950.0, observed=600.0)
    with engine.begin() as conn:
        report = record(conn, [fall], later + timedelta(hours=1))
    assert (report.seen, report.new, report.resolved) == (1, 1, 1)
    with engine.begin() as conn:
        record(conn, [], later + timedelta(hours=2))
        record(conn, [_row("org/a · CI", kind="drift")], later + timedelta(hours=3))
    assert _count(engine) == 3


def test_a_change_over_by_its_age_is_held_by_the_next_pass_only(engine: Engine) -> None:
    """A rise going on is held; the pass that finds it over by its age alone resolves it and
    marks it held, so the next pass still judges with it (it shapes the window after it);
    a pass that no longer finds it so lets it go. An anomaly of the history, recorded over,
    is never held."""
    rise = _row("org/a · CI")
    key = ("org/a · CI", "duration")
    detected = (rise["detected_at"], True)
    with engine.begin() as conn:
        record(conn, [rise], NOW)
        assert open_changes(conn)[key] == {detected}
        report = record(conn, [], NOW + timedelta(hours=1), aged=[rise])
        assert report.resolved == 1
        assert open_changes(conn)[key] == {detected}
        record(conn, [], NOW + timedelta(hours=2), aged=[rise])
        assert open_changes(conn)[key] == {detected}
        record(conn, [], NOW + timedelta(hours=3))
        assert key not in open_changes(conn)
        old = _row("org/b · CI", started_at=NOW - timedelta(days=30))
        record(conn, [], NOW + timedelta(hours=4), past=[old], aged=[old])
        assert open_changes(conn) == {}
        resolved = conn.execute(select(anomalies_t.c.resolved_at)).scalars().all()
    assert all(at is not None for at in resolved)


def _runs_told_then(later: float, runs: range) -> list[dict[str, Any]]:
    """Runs of about 10 minutes, 14 from run 120 for ten runs, then ``later`` times 10."""
    spread = np.random.default_rng(6).normal(0.0, 30.0, 160)
    seconds = [600.0 * (1.0 if i < 120 else 1.4 if i < 130 else later) for i in range(160)]
    return [_run(i, round(seconds[i] + spread[i])) for i in runs]


def _store(engine: Engine, runs: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in runs])


def _rises_in_duration(engine: Engine) -> list[tuple[datetime, datetime | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(anomalies_t.c.detected_at, anomalies_t.c.resolved_at).where(
                anomalies_t.c.metric == "duration",
                anomalies_t.c.kind.in_(("level_shift", "drift")),
                anomalies_t.c.observed > anomalies_t.c.expected,
            )
        )
        return [(r.detected_at, r.resolved_at) for r in rows]


@pytest.mark.parametrize(("later", "held"), [(1.17, True), (1.05, False)])
def test_a_change_recorded_open_is_held_by_the_next_pass_until_clearly_taken_back(
    engine: Engine, later: float, held: bool
) -> None:
    """A pass tells a slowdown of 40 % ten runs after it began. Thirty runs later the runs are
    17 % slower than before: a pass over the whole history, nothing recorded, tells no change
    (under the 25 % a change must reach); the next pass holds the one it recorded, still open,
    at the same alarm. At 5 % slower it is taken back: the pass resolves it."""
    _store(engine, _runs_told_then(later, range(130)))
    detect_and_record(engine, lambda _s, _d: RATE, now=NOW)
    [(alarm, resolved)] = _rises_in_duration(engine)
    assert resolved is None
    _store(engine, _runs_told_then(later, range(130, 160)))
    later_pass = NOW + timedelta(hours=1)
    report = detect_and_record(engine, lambda _s, _d: RATE, now=later_pass)
    assert _rises_in_duration(engine) == [(alarm, None if held else later_pass)]
    assert report.new == 0
    with engine.begin() as conn:
        conn.execute(anomalies_t.delete())
    detect_and_record(engine, lambda _s, _d: RATE, now=later_pass)
    assert _rises_in_duration(engine) == []


def test_the_api_lists_recorded_anomalies(engine: Engine, settings: Settings) -> None:
    """GET /api/v1/anomalies lists them newest first; active=true leaves out the resolved."""
    with engine.begin() as conn:
        record(conn, [_row("a · CI"), _row("b · CI", detected_at=NOW)], NOW)
        record(conn, [_row("b · CI", detected_at=NOW)], NOW + timedelta(hours=1))
    container = build(settings)
    with TestClient(create_app(container)) as client:
        everything = client.get("/api/v1/anomalies").json()
        active = client.get("/api/v1/anomalies", params={"active": "true"}).json()
        second = client.get("/api/v1/anomalies", params={"limit": 1, "offset": 1}).json()
        unlabelled = client.get("/api/v1/anomalies", params={"verdict": "none"}).json()
        problems = client.get("/api/v1/problems").json()
    container.close()
    assert [a["series"] for a in everything] == ["b · CI", "a · CI"]
    assert everything[1]["resolved_at"] is not None
    assert [a["series"] for a in active] == ["b · CI"]
    assert second == everything[1:]
    assert unlabelled == everything
    assert active[0]["trigger"] == {"commit": "abc"}
    assert any(p["kind"] == "anomaly" for p in problems["problems"])


def test_detection_is_scheduled_with_the_other_tasks(engine: Engine, settings: Settings) -> None:
    """With anomaly detection enabled, a periodic task records; disabled, there is none."""
    huey = MemoryHuey("t", immediate=True)
    tasks = register_tasks(huey, engine, settings=settings)
    assert tasks.anomalies is not None
    assert "record_anomalies" in {t.__name__ for t in huey._registry._periodic_tasks}
    report = tasks.anomalies.call_local()  # type: ignore[attr-defined]
    assert report == {"seen": 0, "new": 0, "resolved": 0, "past": 0}
    off = settings.model_copy(
        update={"anomaly": settings.anomaly.model_copy(update={"enabled": False})}
    )
    assert register_tasks(MemoryHuey("u", immediate=True), engine, settings=off).anomalies is None


def test_the_master_kill_switch_leaves_only_collection(engine: Engine, settings: Settings) -> None:
    """CONTROLTOWER_ENABLED=false: deliveries are still normalized and swept, but nothing is
    detected, alerted on or trained."""
    stopped = settings.model_copy(update={"enabled": False})
    huey = MemoryHuey("k", immediate=True)
    tasks = register_tasks(huey, engine, settings=stopped)
    periodic = {t.__name__ for t in huey._registry._periodic_tasks}
    assert "sweep_pending_deliveries" in periodic
    assert not periodic & {"record_anomalies", "evaluate_alerts"}
    assert (tasks.anomalies, tasks.alerts, tasks.alert_trigger) == (None, None, None)
    running = register_tasks(MemoryHuey("r", immediate=True), engine, settings=settings)
    assert running.anomalies is not None
    assert (running.alerts is None) == (not settings.alerts.enabled)


def test_anomalies_since_keep_a_repository_or_workflow_scope(engine: Engine) -> None:
    """A scope keeps its own series and those under it; LIKE wildcards in names match literally."""
    with engine.begin() as conn:
        record(
            conn,
            [
                _row("org/a_b", metric="cost"),
                _row("org/a_b · CI"),
                _row("org/a_b · CI · test"),
                _row("org/axb · CI"),
                _row("org/a_b · CI", started_at=NOW - timedelta(days=40)),
            ],
            NOW,
        )
        since = NOW - timedelta(days=30)
        repository = [a.series for a in anomalies_since(conn, since, "org/a_b")]
        workflow = [a.series for a in anomalies_since(conn, since, "org/a_b · CI")]
        everything = anomalies_since(conn, since)
        newest = anomalies_since(conn, since, limit=1)
    assert sorted(repository) == ["org/a_b", "org/a_b · CI", "org/a_b · CI · test"]
    assert sorted(workflow) == ["org/a_b · CI", "org/a_b · CI · test"]
    assert len(everything) == 4
    assert [a.series for a in newest] == [everything[-1].series]


def _ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            r.series: r.id for r in conn.execute(select(anomalies_t.c.series, anomalies_t.c.id))
        }


def test_verdicts_are_kept_and_a_dismissed_anomaly_leaves_what_is_shown(engine: Engine) -> None:
    """Confirmed: still active, known to evaluations. Dismissed: not active, not on charts,
    not a problem; recording it again keeps the verdict; retracting brings it back."""
    with engine.begin() as conn:
        record(conn, [_row("org/a · CI"), _row("org/b · CI", metric="cost")], NOW)
    ids = _ids(engine)
    later = NOW + timedelta(hours=1)
    with engine.begin() as conn:
        confirmed = set_verdict(conn, ids["org/a · CI"], "confirmed", " ana ", "real", later)
        set_verdict(conn, ids["org/b · CI"], "dismissed", "ben", "  ", later)
    assert (confirmed.verdict, confirmed.verdict_by, confirmed.verdict_note) == (
        "confirmed",
        "ana",
        "real",
    )
    assert confirmed.verdict_at == later
    with engine.begin() as conn:
        record(conn, [_row("org/a · CI"), _row("org/b · CI", metric="cost")], later)
    with engine.connect() as conn:
        assert [a.series for a in active_anomalies(conn)] == ["org/a · CI"]
        listed = [a.series for a in recent_anomalies(conn, active_only=True)]
        assert listed == ["org/a · CI"]  # `anomaly list --active` and `?active=true` alike
        assert len(recent_anomalies(conn)) == 2
        since = [a.series for a in anomalies_since(conn, NOW - timedelta(days=30))]
        assert since == ["org/a · CI"]
        dismissed = get_anomaly(conn, ids["org/b · CI"])
        assert (dismissed.verdict, dismissed.verdict_by, dismissed.verdict_note) == (
            "dismissed",
            "ben",
            None,
        )
        assert confirmed_anomalies(conn) == {("org/a · CI", "duration"): [NOW - timedelta(days=1)]}
    with engine.begin() as conn:
        back = set_verdict(conn, ids["org/b · CI"], None, None, None, later)
    assert (back.verdict, back.verdict_by, back.verdict_at) == (None, None, None)
    with engine.connect() as conn:
        assert len(active_anomalies(conn)) == 2


@pytest.mark.parametrize(
    ("verdict", "by", "error"),
    [
        ("real", "ana", InvalidVerdict),
        ("confirmed", "  ", InvalidVerdict),
        ("confirmed", None, InvalidVerdict),
    ],
)
def test_a_refused_verdict_changes_nothing(
    engine: Engine, verdict: str, by: str | None, error: type[Exception]
) -> None:
    with engine.begin() as conn:
        record(conn, [_row("org/a · CI")], NOW)
    [anomaly_id] = _ids(engine).values()
    with pytest.raises(error), engine.begin() as conn:
        set_verdict(conn, anomaly_id, verdict, by, None, NOW)
    with pytest.raises(AnomalyNotFound), engine.begin() as conn:
        set_verdict(conn, anomaly_id + 1, "confirmed", "ana", None, NOW)
    with engine.connect() as conn:
        assert get_anomaly(conn, anomaly_id).verdict is None


def test_a_verdict_through_the_api_needs_the_token_and_is_shown(
    engine: Engine, settings: Settings
) -> None:
    """Without the token 401 and nothing changes; with it the verdict is stored and served;
    an unknown anomaly is 404, an unknown verdict 422; a dismissed one is no longer a problem."""
    with engine.begin() as conn:
        record(conn, [_row("org/a · CI", severity="critical")], NOW)
    [anomaly_id] = _ids(engine).values()
    guarded = settings.model_copy(
        update={"server": settings.server.model_copy(update={"api_token": SecretStr("s3cret")})}
    )
    container = build(guarded)
    auth = {"Authorization": "Bearer s3cret"}
    path = f"/api/v1/anomalies/{anomaly_id}/verdict"
    with TestClient(create_app(container)) as client:
        refused = client.post(path, json={"verdict": "dismissed", "by": "ana"})
        unchanged = client.get(f"/api/v1/anomalies/{anomaly_id}").json()
        assert any(
            p["kind"] == "anomaly" for p in client.get("/api/v1/problems").json()["problems"]
        )
        missing = client.post(
            f"/api/v1/anomalies/{anomaly_id + 1}/verdict",
            json={"verdict": "confirmed", "by": "a"},
            headers=auth,
        )
        bad = client.post(path, json={"verdict": "maybe", "by": "ana"}, headers=auth)
        nobody = client.post(path, json={"verdict": "dismissed"}, headers=auth)
        confirm = {"verdict": "confirmed", "by": "ana"}
        confirmed = client.post(path, json=confirm, headers=auth)
        assert confirmed.status_code == 200, confirmed.text
        by_verdict = {
            v: client.get("/api/v1/anomalies", params={"verdict": v}).json()
            for v in ("confirmed", "dismissed", "none")
        }
        assert [len(by_verdict[v]) for v in ("confirmed", "dismissed", "none")] == [1, 0, 0]
        assert client.get("/api/v1/anomalies", params={"verdict": "maybe"}).status_code == 422
        given = client.post(
            path, json={"verdict": "dismissed", "by": "ana", "note": "a test run"}, headers=auth
        )
        listed = client.get("/api/v1/anomalies").json()
    with engine.connect() as conn:
        found, _ = activity.problems(
            conn,
            Window(NOW - timedelta(days=30), NOW),
            Filters(),
            settings.telemetry,
            now=NOW,
            anomalies=True,
        )
    container.close()
    assert refused.status_code == 401
    assert unchanged["verdict"] is None
    assert (missing.status_code, bad.status_code, nobody.status_code) == (404, 422, 422)
    assert given.status_code == 200, given.text
    assert given.json()["verdict"] == "dismissed"
    assert (listed[0]["verdict"], listed[0]["verdict_by"], listed[0]["verdict_note"]) == (
        "dismissed",
        "ana",
        "a test run",
    )
    assert not [p for p in found if p.kind == "anomaly"]


def test_anomalies_of_the_past_are_recorded_resolved_once_and_keep_their_verdicts(
    engine: Engine,
) -> None:
    """A pass over the history adds what is over as resolved; again, it adds nothing, leaves
    an active one active and a verdict as it was; the next ordinary pass does not touch them."""
    over = [_row("org/a · CI", started_at=NOW - timedelta(days=40)), _row("org/b · CI")]
    with engine.begin() as conn:
        first = record(conn, [_row("org/c · CI")], NOW, past=over)
    assert (first.seen, first.new, first.past) == (1, 1, 2)
    ids = _ids(engine)
    with engine.begin() as conn:
        set_verdict(conn, ids["org/a · CI"], "confirmed", "ana", None, NOW)
        again = record(conn, [_row("org/b · CI")], NOW + timedelta(hours=1), past=over)
    assert (again.seen, again.new, again.resolved, again.past) == (1, 0, 1, 0)
    assert _count(engine) == 3
    with engine.connect() as conn:
        assert [a.series for a in active_anomalies(conn)] == ["org/b · CI"]
        past = get_anomaly(conn, ids["org/a · CI"])
    assert past.resolved_at == NOW
    assert past.verdict == "confirmed"
    with engine.begin() as conn:
        plain = record(conn, [_row("org/b · CI")], NOW + timedelta(hours=2))
    assert (plain.resolved, plain.past) == (0, 0)
    with engine.connect() as conn:
        assert get_anomaly(conn, ids["org/a · CI"]).resolved_at == NOW


def test_a_stop_is_going_on_for_two_months_after_the_last_run(engine: Engine) -> None:
    """CI stopped after day 99 while Nightly went on: its stop is recorded as going on while
    the store's last complete day is within 60 days of CI's last run, then resolved."""
    records = _daily_runs("CI", range(100), 3) + _daily_runs("Nightly", range(131), 1)
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in records])
    detect_and_record(engine, lambda _s, _d: RATE, now=NOW)
    with engine.connect() as conn:
        stops = [a for a in active_anomalies(conn, 50) if a.metric == "runs"]
    assert [(a.series, a.kind, a.observed, a.severity) for a in stops] == [
        ("octo/app · CI", "level_shift", 0.0, "warning")
    ]
    assert anomaly_words.anomaly_words(stops[0]) == (
        "stop in runs of octo/app · CI",
        "none since 2025-06-11, against a normal 3 runs a day",
    )
    later = _daily_runs("Nightly", range(131, 161), 1)  # day 159 complete: 60 days after day 99
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in later])
    still = detect_and_record(engine, lambda _s, _d: RATE, now=NOW + timedelta(days=1))
    assert still.resolved == 0
    more = _daily_runs("Nightly", range(161, 162), 1)
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in more])
    over = detect_and_record(engine, lambda _s, _d: RATE, now=NOW + timedelta(days=2))
    with engine.connect() as conn:
        assert [a for a in active_anomalies(conn, 50) if a.series == "octo/app · CI"] == []
    assert over.resolved >= 1


def test_a_repository_built_by_one_workflow_tells_its_stop_once(engine: Engine) -> None:
    """octo/app has CI alone, which stopped; its runs and cost per day are CI's, so the stop
    is recorded at the workflow, not again at the repository."""
    records = _daily_runs("CI", range(100), 3)
    records += [{**r, "repository": "octo/other"} for r in _daily_runs("Nightly", range(131), 1)]
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in records])
    detect_and_record(engine, lambda _s, _d: RATE, now=NOW)
    with engine.connect() as conn:
        stops = [(a.series, a.metric) for a in active_anomalies(conn, 50) if a.observed == 0.0]
    assert sorted(stops) == [("octo/app · CI", "cost"), ("octo/app · CI", "runs")]


CI_RUNS = ("octo/app · CI", "runs")


def test_a_stop_followed_by_a_return_is_over_and_the_return_is_going_on(engine: Engine) -> None:
    """CI paused for three weeks and came back: the stop is no longer going on (resolved, kept
    as history), the return is; a pass that first saw only the stop resolves it then."""
    before = _daily_runs("CI", range(100), 3) + _daily_runs("Nightly", range(109), 1)
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in before])
    detect_and_record(engine, lambda _s, _d: RATE, now=NOW)
    with engine.connect() as conn:
        [stop] = [a for a in active_anomalies(conn, 50) if (a.series, a.metric) == CI_RUNS]
    assert (stop.kind, stop.observed) == ("level_shift", 0.0)
    after = _daily_runs("CI", range(121, 151), 3) + _daily_runs("Nightly", range(109, 152), 1)
    with engine.begin() as conn:
        FactWriter(conn).upsert_runs([parse_record(r).fact for r in after])
    report = detect_and_record(engine, lambda _s, _d: RATE, now=NOW + timedelta(days=1))
    with engine.connect() as conn:
        active = [a for a in active_anomalies(conn, 50) if (a.series, a.metric) == CI_RUNS]
        ended = get_anomaly(conn, stop.id)
    assert [(a.kind, a.expected, a.observed > 0) for a in active] == [("level_shift", 0.0, True)]
    assert ended.resolved_at == NOW + timedelta(days=1)
    assert report.resolved >= 1  # the cost of CI stopped and came back too
