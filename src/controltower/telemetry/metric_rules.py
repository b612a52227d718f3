"""Alert rules on metrics: a workflow's figure over a recent window, past a threshold.

A rule with ``metric`` (settings ``alerts.rules``) is judged for every
workflow whose repository (in any case, as on GitHub) and name match its
globs, over the last ``window_hours`` before now, from the same one-pass
window figures the pages use (``service.figures``; cost from ``service.cost``'s grouped sums). A
workflow with fewer than ``min_runs`` runs in the window is not judged. Each
workflow past the threshold is one problem of kind ``metric``, named by its
rule, whose title says the figure in plain words; the alert's key leaves the
figure out, so the alert stays one while the figure moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from sqlalchemy import Connection, select

from controltower.config import AlertRule
from controltower.domain.wording import counted
from controltower.telemetry import service
from controltower.telemetry.activity import Problem
from controltower.telemetry.cost import RateTable
from controltower.telemetry.metrics import Stats, Window
from controltower.telemetry.scope import Filters, repos_t, workflows_t

LABELS = {
    "failure_rate": "failure rate",
    "duration_p50": "median duration of successful runs",
    "duration_p95": "p95 duration of successful runs",
    "queue_p95": "p95 queue time",
    "cost_per_day": "cost per day",
}
SEPARATOR = " · "


class _Passes:
    """Window figures and costs computed once per evaluation for rules that share them."""

    def __init__(self, conn: Connection, rates: RateTable) -> None:
        self.conn, self.rates = conn, rates
        self._stats: dict[tuple[Window, Filters], dict[str, Stats]] = {}
        self._usd: dict[tuple[Window, Filters], dict[str, float]] = {}

    def stats(self, window: Window, filters: Filters) -> dict[str, Stats]:
        key = (window, filters)
        if key not in self._stats:
            self._stats[key] = service.figures(
                self.conn, window, filters, "workflow", with_flaky=False
            )
        return self._stats[key]

    def usd(self, window: Window, filters: Filters) -> dict[str, float]:
        key = (window, filters)
        if key not in self._usd:
            self._usd[key] = dict(service.cost(self.conn, window, filters, self.rates).by_workflow)
        return self._usd[key]


def metric_problems(
    conn: Connection, rules: Sequence[AlertRule], rates: RateTable, now: datetime
) -> list[Problem]:
    """The problems of every metric rule among ``rules``, judged at ``now``.

    Rules over the same window and filters share one pass over its runs.
    """
    passes = _Passes(conn, rates)
    found: list[Problem] = []
    for rule in rules:
        if rule.metric is not None:
            found.extend(rule_problems(conn, rule, now, passes))
    return found


def rule_problems(
    conn: Connection, rule: AlertRule, now: datetime, passes: _Passes
) -> list[Problem]:
    """The workflows past ``rule``'s threshold over its window before ``now``."""
    window = Window(now - timedelta(hours=rule.window_hours), now)
    filters = Filters(repository=_exact(rule.repository), workflow=_exact(rule.workflow))
    stats = passes.stats(window, filters)
    usd = passes.usd(window, filters) if _costs(rule) else {}
    past: list[tuple[str, str, float, str, int]] = []
    for label, figures in sorted(stats.items()):
        repository, _, workflow = label.partition(SEPARATOR)
        if not (
            repository_matches(repository, rule.repository) and fnmatchcase(workflow, rule.workflow)
        ):
            continue
        if figures.runs < rule.min_runs:
            continue
        value = figure(rule, figures, usd.get(label, 0.0))
        side = breach(value, rule.above, rule.below)
        if value is not None and side is not None:
            past.append((repository, workflow, value, side, figures.runs))
    ids = _workflow_ids(conn, {repository for repository, *_ in past})
    return [
        _problem(rule, repository, workflow, value, side, runs, ids.get((repository, workflow)))
        for repository, workflow, value, side, runs in past
    ]


def figure(rule: AlertRule, stats: Stats, usd: float) -> float | None:
    """The figure ``rule`` watches, from a workflow's window figures (and cost, in USD)."""
    if rule.metric == "cost_per_day":
        return usd / (rule.window_hours / 24)
    value: float | None = getattr(stats, str(rule.metric))
    return value


def breach(value: float | None, above: float | None, below: float | None) -> str | None:
    """``"above"`` or ``"below"`` when ``value`` is past that threshold; else ``None``."""
    if value is None:
        return None
    if above is not None and value > above:
        return "above"
    if below is not None and value < below:
        return "below"
    return None


def title(rule: AlertRule, where: str, value: float, side: str) -> str:
    """The plain-words title: what, where, how much, over when, against what."""
    threshold = rule.above if side == "above" else rule.below
    assert threshold is not None
    assert rule.metric is not None
    return (
        f"{LABELS[rule.metric]} of {where} is {amount(rule.metric, value)} "
        f"over the last {span(rule.window_hours)}, {side} {amount(rule.metric, threshold)}"
    )


def amount(metric: str, value: float) -> str:
    """A figure as a person reads it: a percentage, a duration or dollars."""
    if metric == "failure_rate":
        return f"{value * 100:.0f} %"
    if metric == "cost_per_day":
        return f"${value:,.2f}"
    seconds = round(value)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s" if seconds % 60 else f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def span(hours: float) -> str:
    """A window length: ``24 h``, ``7 d``, ``90 min``."""
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours >= 48 and hours % 24 == 0:
        return f"{hours / 24:.0f} d"
    return f"{hours:g} h"


def _problem(
    rule: AlertRule,
    repository: str,
    workflow: str,
    value: float,
    side: str,
    runs: int,
    workflow_id: int | None,
) -> Problem:
    return Problem(
        "metric",
        rule.severity or "warning",
        title(rule, f"{repository} {workflow}", value, side),
        f"{counted(runs, 'run')} in the window; rule {rule.name!r}",
        repository=repository,
        workflow_id=workflow_id,
        rule=rule.name,
    )


def _workflow_ids(conn: Connection, repositories: set[str]) -> dict[tuple[str, str], int]:
    """The ids of the workflows of ``repositories``, by (repository, workflow name)."""
    if not repositories:
        return {}
    query = (
        select(repos_t.c.full_name, workflows_t.c.name, workflows_t.c.id)
        .join(repos_t, repos_t.c.id == workflows_t.c.repository_id)
        .where(repos_t.c.full_name.in_(sorted(repositories)))
    )
    return {(row.full_name, row.name): row.id for row in conn.execute(query)}


def repository_matches(repository: str, pattern: str) -> bool:
    """Whether ``repository`` matches the glob ``pattern`` in any case, as GitHub names
    repositories (``Octo/*`` matches ``octo/app``)."""
    return fnmatchcase(repository.lower(), pattern.lower())


def _exact(pattern: str) -> str | None:
    """The pattern as an exact filter the query can use, when it has no wildcard."""
    return None if any(c in pattern for c in "*?[") else pattern


def _costs(rule: AlertRule) -> bool:
    return rule.metric == "cost_per_day"
