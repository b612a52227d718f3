"""Alerts from active problems: rules, deduplication by key, and resolving when a problem clears.

Every evaluation takes the active problems (``activity.problems``, anomalies
included), keeps those a rule matches, and compares them with the unresolved
alerts stored in ``alerts``. A problem with no unresolved alert of its key
opens one and fires a notification; one already alerting only updates it
(no notification, unless its severity grew); an unresolved alert whose
problem is still active but fell below its rule's ``min_severity`` stays
open at the severity it fired at, its words updated (a problem wavering at the bar, an anomaly
graded warning, then info, then warning again as points arrive, would
otherwise resolve and fire again each time); an unresolved alert whose
problem is gone is resolved, with a resolve notification routed to every
severity its firing was notified at (``notified``), so it reaches each
channel that heard it fire, whatever its severity when it cleared.

The key names the condition, not its current figures: the kind, the
repository and workflow, and the title except for the installation's own
problems, whose titles carry counts that change while they last, for
metric rules (``telemetry.metric_rules``), named by their rule instead, and
for anomalies, named by their subject (``anomaly_words.anomaly_subject``: the
series, the metric and the change, a rise or a fall whether told as a shift
or a drift).

Silences and acknowledgements then decide which notifications are sent
(``telemetry.suppression``); ``evaluate_decision`` says which were held and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from fnmatch import fnmatchcase

from sqlalchemy import Connection, Engine, insert, select, text, update

from controltower.config import AlertRule, Settings
from controltower.integrations.notify import Notification
from controltower.store.tables import Alert, table_of
from controltower.telemetry import activity, service
from controltower.telemetry.metric_rules import metric_problems
from controltower.telemetry.scope import Filters
from controltower.telemetry.suppression import RANK, Decision, decide, resolved_of

alerts_t = table_of(Alert)
# Problems of the installation itself: one condition each, whatever their counts say.
SINGLE_KINDS = frozenset({"ingest-backlog", "ingest-failed", "ingest-quiet"})
# Problems are looked for over the last month, as on the overview, and all of them are kept.
DAYS = 30
LIMIT = 10_000
ADVISORY_LOCK = 0x616C657274  # the PostgreSQL advisory lock that serializes evaluations


def alert_key(problem: activity.Problem) -> str:
    """The deduplication key of the condition ``problem`` describes."""
    if problem.kind in SINGLE_KINDS:
        return problem.kind
    if problem.subject is not None:
        return "|".join((problem.kind, problem.repository or "", problem.subject))
    if problem.kind == "metric":
        return "|".join(
            ("metric", problem.rule or "", problem.repository or "", str(problem.workflow_id or ""))
        )
    parts = (problem.kind, problem.repository or "", str(problem.workflow_id or ""), problem.title)
    return "|".join(parts)


def matching_rule(problem: activity.Problem, rules: Sequence[AlertRule]) -> AlertRule | None:
    """The first rule that matches ``problem``'s kind and severity, if any.

    A metric problem is matched by the rule that found it, and only by it.
    """
    if problem.kind == "metric":
        return next((r for r in rules if r.metric and r.name == problem.rule), None)
    for rule in rules:
        if RANK[problem.severity] >= RANK[rule.min_severity] and _of_its_kinds(problem, rule):
            return rule
    return None


def _of_its_kinds(problem: activity.Problem, rule: AlertRule) -> bool:
    """Whether ``rule``, a rule on problem kinds (not a metric rule), names ``problem``'s kind."""
    if rule.metric is not None or problem.kind == "metric":
        return False
    return any(fnmatchcase(problem.kind, pattern) for pattern in rule.kinds)


def _dipped(problem: activity.Problem, opened_by: str, rules: Sequence[AlertRule]) -> bool:
    """Whether ``problem`` is still of the kinds of the rule that opened its alert
    (``opened_by``) but under that rule's least severity."""
    rule = next((r for r in rules if r.name == opened_by), None)
    return (
        rule is not None
        and _of_its_kinds(problem, rule)
        and RANK[problem.severity] < RANK[rule.min_severity]
    )


def _seen_again(
    conn: Connection,
    alert_id: int,
    problem: activity.Problem,
    now: datetime,
    severity: str | None = None,
) -> None:
    """An open alert's words and last sighting from its problem now (and its ``severity``, when
    given: kept as it fired otherwise)."""
    fired = {} if severity is None else {"severity": severity}
    conn.execute(
        update(alerts_t)
        .where(alerts_t.c.id == alert_id)
        .values(
            title=problem.title,
            detail=problem.detail,
            last_seen_at=now,
            shared_cause=problem.group,
            **fired,
        )
    )


def evaluate(
    conn: Connection,
    found: Sequence[activity.Problem],
    rules: Sequence[AlertRule],
    now: datetime,
) -> list[Notification]:
    """Open, update and resolve stored alerts against ``found``; the notifications to send."""
    open_alerts = {
        row.key: row
        for row in conn.execute(select(alerts_t).where(alerts_t.c.resolved_at.is_(None)))
    }
    notifications: list[Notification] = []
    seen: set[str] = set()
    for problem in found:
        key = alert_key(problem)
        if key in seen:
            continue
        row = open_alerts.get(key)
        if row is not None and _dipped(problem, row.rule, rules):
            # under its rule's least severity now: open still, under that rule, at the
            # severity it fired at (a later rule for lesser ones would lower it, and it would
            # fire again as it grew back)
            seen.add(key)
            _seen_again(conn, row.id, problem, now)
            continue
        rule = matching_rule(problem, rules)
        if rule is None:
            continue
        seen.add(key)
        severity = rule.severity or problem.severity
        since = problem.since or now
        if row is None:
            conn.execute(
                insert(alerts_t).values(
                    key=key,
                    rule=rule.name,
                    kind=problem.kind,
                    repository=problem.repository,
                    severity=severity,
                    title=problem.title,
                    detail=problem.detail,
                    started_at=since,
                    last_seen_at=now,
                    shared_cause=problem.group,
                )
            )
        else:
            _seen_again(conn, row.id, problem, now, severity=severity)
            if RANK[severity] <= RANK[row.severity]:
                continue
            since = row.started_at
        notifications.append(
            Notification(
                key,
                "firing",
                severity,
                problem.title,
                problem.detail,
                since,
                repository=problem.repository,
                group=problem.group,
            )
        )
    for key, row in open_alerts.items():
        if key in seen:
            continue
        conn.execute(update(alerts_t).where(alerts_t.c.id == row.id).values(resolved_at=now))
        notifications.append(resolved_of(row))
    return notifications


Decided = Callable[[Connection, Decision], object]


def evaluate_store(
    engine: Engine, settings: Settings, now: datetime | None = None, then: Decided | None = None
) -> list[Notification]:
    """Evaluate the alert rules on the problems active now; the notifications to send."""
    return evaluate_decision(engine, settings, now, then).send


def evaluate_decision(
    engine: Engine, settings: Settings, now: datetime | None = None, then: Decided | None = None
) -> Decision:
    """Evaluate the alert rules now; the notifications to send, and those held back and why.

    ``then`` runs with the decision inside the evaluation's transaction, before it commits:
    what it writes (the messages owed, ``telemetry.notification_outbox``) commits with the
    alerts, or neither does.
    """
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # One evaluation at a time across processes, or two could open the same alert.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
        metrics = metric_problems(
            conn, settings.alerts.rules, service.rate_table(settings.telemetry.rates), now
        )
        found, _ = activity.problems(
            conn,
            service.default_window(conn, DAYS),
            Filters(),
            settings.telemetry,
            now=now,
            limit=LIMIT,
            completeness_threshold=settings.reconcile.completeness_threshold,
            anomalies=settings.anomaly.enabled,
            extra=metrics,
        )
        decision = decide(conn, evaluate(conn, found, settings.alerts.rules, now), now)
        if then is not None:
            then(conn, decision)
        return decision
