"""What needs attention now: the active problems (what happened lately is ``telemetry.feed``).

Problems found here (later stages add their own):

- ``failing-branch``: a workflow whose latest passed-or-failed run on a
  default branch (settings ``telemetry.default_branches``) failed; since the
  first failure after its last pass.
- ``ingest-backlog``: deliveries waiting to be normalized, over the warning or
  critical threshold (``telemetry.problems``).
- ``ingest-failed``: deliveries that could not be normalized (stored, and
  processed again with ``controltower deliveries retry``).
- ``ingest-quiet``: webhooks have been delivered before, but none for longer
  than ``quiet_after_hours``.
- ``data-completeness``: the share of runs that arrived by webhook, as the
  last reconciliation with GitHub's API measured it, is below the threshold
  (``reconcile.completeness_threshold``), overall or for a repository.
- ``anomaly``: an anomaly the detectors found and still see (recorded in
  ``anomalies`` by the scheduled detection), when asked for.

Callers add problems found elsewhere with ``extra`` (``model-accuracy``: the
live prediction model demoted to a baseline, found by the intelligence;
``metric``: a metric past an alert rule's threshold, found by
``telemetry.metric_rules``, which names the ``rule``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select, true

from controltower.domain.status import FAILED_CONCLUSIONS, Conclusion
from controltower.store import queries
from controltower.store.anomalies import StoredAnomaly, active_anomalies
from controltower.store.tables import Delivery, table_of
from controltower.telemetry import completeness
from controltower.telemetry.anomaly_words import anomaly_subject, anomaly_words, shared_group
from controltower.telemetry.metrics import Window
from controltower.telemetry.scope import Filters, repos_t, runs_query, runs_t, workflows_t

deliveries_t = table_of(Delivery)
FAILED = tuple(sorted(str(c) for c in FAILED_CONCLUSIONS))
PASSED = (str(Conclusion.SUCCESS),)
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong now: what, how bad, since when, and where to look.

    ``group``: problems of one cause across repositories (an anomaly several
    repositories show at once) name it here, and their alerts travel together.
    ``subject``: what the problem is about where its title says more than that (an
    anomaly's kind, which a second look may change), for its alert's key."""

    kind: str
    severity: str
    title: str
    detail: str
    since: datetime | None = None
    repository: str | None = None
    workflow_id: int | None = None
    run_id: str | None = None
    rule: str | None = None
    group: str | None = None
    subject: str | None = None


def problems(
    conn: Connection,
    window: Window,
    filters: Filters,
    settings: Any,
    now: datetime | None = None,
    limit: int = 20,
    completeness_threshold: float | None = None,
    anomalies: bool = False,
    extra: Sequence[Problem] = (),
) -> tuple[list[Problem], int]:
    """Active problems, worst and newest first, at most ``limit``; and how many there are.

    With ``completeness_threshold``, data completeness below it is one too;
    with ``anomalies``, each active recorded anomaly is one; ``extra`` are
    added as they are.
    """
    now = now or datetime.now(UTC)
    found = _ingest_problems(conn, settings.problems, now)
    if completeness_threshold is not None:
        found.extend(_completeness_problems(conn, completeness_threshold))
    if anomalies:
        found.extend(_anomaly_problems(conn, limit))
    found.extend(extra)
    failing, count = _failing_branches(conn, window, filters, settings.default_branches, limit)
    found.extend(failing)
    found.sort(key=lambda p: (SEVERITY_ORDER[p.severity], -_ts(p.since)))
    return found[:limit], count + len(found) - len(failing)


def anomaly_problem(a: StoredAnomaly) -> Problem:
    """The problem a recorded anomaly going on is: what alerts on anomalies are raised from."""
    title, detail = anomaly_words(a)
    return Problem(
        "anomaly",
        a.severity,
        title,
        detail,
        since=a.started_at,
        repository=a.series.split(" · ", 1)[0],
        group=shared_group(a),
        subject=anomaly_subject(a),
    )


def _anomaly_problems(conn: Connection, limit: int) -> list[Problem]:
    return [anomaly_problem(a) for a in active_anomalies(conn, limit)]


def _ingest_problems(conn: Connection, settings: Any, now: datetime) -> list[Problem]:
    found = []
    states: dict[str, int] = {
        str(state): int(count)
        for state, count in conn.execute(
            select(deliveries_t.c.state, func.count()).group_by(deliveries_t.c.state)
        )
    }
    pending = int(states.get("pending", 0))
    if pending >= settings.backlog_warning:
        oldest = conn.execute(
            select(func.min(deliveries_t.c.received_at)).where(deliveries_t.c.state == "pending")
        ).scalar_one_or_none()
        severity = "critical" if pending >= settings.backlog_critical else "warning"
        found.append(
            Problem(
                "ingest-backlog",
                severity,
                f"{pending} deliveries waiting to be processed",
                "The worker is behind or not running (controltower worker, or serve with its "
                "embedded worker).",
                since=oldest,
            )
        )
    failed = int(states.get("failed", 0))
    if failed:
        found.append(
            Problem(
                "ingest-failed",
                "warning",
                f"{failed} deliveries could not be processed",
                "They are stored; see why with controltower deliveries list --state failed, and"
                " process them again with controltower deliveries retry.",
            )
        )
    last = queries.last_delivery_at(conn)
    quiet = timedelta(hours=settings.quiet_after_hours)
    if last is not None and now - last > quiet:
        found.append(
            Problem(
                "ingest-quiet",
                "warning",
                "No webhook delivery lately",
                f"The last one arrived {last:%Y-%m-%d %H:%M} UTC; check the webhook's recent "
                "deliveries on GitHub.",
                since=last,
            )
        )
    return found


def _completeness_problems(conn: Connection, threshold: float) -> list[Problem]:
    report = completeness.data_completeness(conn, threshold)
    return [
        Problem(
            "data-completeness",
            p.severity,
            f"Webhooks missed runs: {p.subject}",
            p.summary + ".",
            since=report.reconciled_at,
            repository=None if p.subject == "all repositories" else p.subject,
        )
        for p in completeness.completeness_problems(report)
    ]


def _failing_branches(
    conn: Connection, window: Window, filters: Filters, branches: list[str], limit: int
) -> tuple[list[Problem], int]:
    decided = (*PASSED, *FAILED)
    latest = (
        runs_query(
            window,
            filters,
            runs_t.c.workflow_id.label("workflow_id"),
            func.max(runs_t.c.created_at).label("created_at"),
        )
        .where(runs_t.c.branch.in_(branches), runs_t.c.conclusion.in_(decided))
        .group_by(runs_t.c.workflow_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            repos_t.c.full_name,
            workflows_t.c.id.label("workflow_id"),
            workflows_t.c.name.label("workflow"),
            runs_t.c.run_id,
            runs_t.c.branch,
            runs_t.c.conclusion,
            runs_t.c.created_at,
        )
        .select_from(runs_t)
        .join(
            latest,
            and_(
                latest.c.workflow_id == runs_t.c.workflow_id,
                latest.c.created_at == runs_t.c.created_at,
            ),
        )
        .join(repos_t, repos_t.c.id == runs_t.c.repository_id)
        .join(workflows_t, workflows_t.c.id == runs_t.c.workflow_id)
        .where(runs_t.c.branch.in_(branches), runs_t.c.conclusion.in_(FAILED))
        .order_by(runs_t.c.created_at.desc())
    ).all()
    seen: set[int] = set()
    failing = []
    for row in rows:
        if row.workflow_id in seen:  # re-run attempts share created_at
            continue
        seen.add(row.workflow_id)
        failing.append(row)
    found = []
    for row in failing[:limit]:
        since = _streak_start(conn, row.workflow_id, branches, row.created_at)
        found.append(
            Problem(
                "failing-branch",
                "warning",
                f"{row.workflow} is failing on {row.branch}",
                f"{row.full_name}: the latest run ended in {row.conclusion}.",
                since=since,
                repository=row.full_name,
                workflow_id=row.workflow_id,
                run_id=row.run_id,
            )
        )
    return found, len(failing)


def _streak_start(
    conn: Connection, workflow_id: int, branches: list[str], latest: datetime
) -> datetime:
    last_pass = conn.execute(
        select(func.max(runs_t.c.created_at)).where(
            runs_t.c.workflow_id == workflow_id,
            runs_t.c.branch.in_(branches),
            runs_t.c.conclusion.in_(PASSED),
            runs_t.c.created_at <= latest,
        )
    ).scalar_one_or_none()
    first_fail = conn.execute(
        select(func.min(runs_t.c.created_at)).where(
            runs_t.c.workflow_id == workflow_id,
            runs_t.c.branch.in_(branches),
            runs_t.c.conclusion.in_(FAILED),
            runs_t.c.created_at > last_pass if last_pass is not None else true(),
        )
    ).scalar_one_or_none()
    return first_fail or latest


def _ts(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0
