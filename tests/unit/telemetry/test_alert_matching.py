"""Pure parts of silencing and metric rules: durations, matchers, thresholds, titles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controltower.config import AlertRule
from controltower.errors import InvalidSilence
from controltower.telemetry.activity import Problem
from controltower.telemetry.alerts import alert_key, matching_rule
from controltower.telemetry.metric_rules import amount, breach, span, title
from controltower.telemetry.silences import StoredSilence, Target, covering, parse_duration

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("1w", 604800)],
)
def test_durations_read_as_people_write_them(text: str, seconds: int) -> None:
    """Units s, m, h, d and w, alone or combined."""
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2", "h", "2 hours", "0m", "-1h", "367d", "99999999999d"])
def test_unreadable_durations_are_refused(text: str) -> None:
    """Anything but number-unit pairs adding up to more than zero, and at most the longest
    silence (366 days; a number of days past what a timedelta holds failed otherwise), is
    refused."""
    with pytest.raises(InvalidSilence):
        parse_duration(text)


def _silence(silence_id: int, **fields: object) -> StoredSilence:
    values: dict[str, object] = {
        "kind": "*",
        "repository": "*",
        "rule": None,
        "key": None,
        "starts_at": NOW - timedelta(hours=1),
        "ends_at": NOW + timedelta(hours=1),
        "reason": "r",
        "created_by": "ana",
        "created_at": NOW,
        "expired_at": None,
    }
    values.update(fields)
    return StoredSilence(id=silence_id, **values)  # type: ignore[arg-type]


TARGET = Target(kind="anomaly", repository="org/app", rule="anomalies", key="k1")


@pytest.mark.parametrize(
    ("fields", "covered"),
    [
        ({}, True),
        ({"kind": "anom*", "repository": "org/*"}, True),
        ({"repository": "other/*"}, False),
        ({"kind": "ingest-*"}, False),
        ({"rule": "anomalies", "key": "k1"}, True),
        ({"rule": "other"}, False),
        ({"key": "k2"}, False),
        ({"starts_at": NOW + timedelta(minutes=1)}, False),
        ({"ends_at": NOW}, False),
    ],
)
def test_silence_matchers_and_time_range(fields: dict[str, object], covered: bool) -> None:
    """Globs on kind and repository, exact rule and key, and starts_at <= now < ends_at."""
    assert (covering([_silence(1, **fields)], TARGET, NOW) is not None) is covered


def test_alerts_without_a_repository_match_only_the_any_repository_silence() -> None:
    """The installation's own problems have no repository: only ``*`` covers them."""
    own = Target(kind="ingest-backlog", repository=None, rule="all", key="ingest-backlog")
    assert covering([_silence(1, repository="org/*")], own, NOW) is None
    assert covering([_silence(2)], own, NOW) is not None


@pytest.mark.parametrize("pattern", ["Org/*", "ORG/APP", "org/App", "o?G/a*"])
def test_silences_match_repositories_in_any_case(pattern: str) -> None:
    """As on GitHub, ``Org/App`` is ``org/app``: a silence's repository glob matches in any
    case, either way round."""
    assert covering([_silence(1, repository=pattern)], TARGET, NOW) is not None
    spelled = Target(kind="anomaly", repository="Org/App", rule="anomalies", key="k1")
    assert covering([_silence(2, repository="org/app")], spelled, NOW) is not None
    assert covering([_silence(3, repository="Org/web")], spelled, NOW) is None


def test_the_covering_silence_is_the_one_ending_last() -> None:
    """Of several silences, the alert shows the one that holds it longest."""
    short, long = _silence(1), _silence(2, ends_at=NOW + timedelta(days=1))
    found = covering([short, long], TARGET, NOW)
    assert found is not None
    assert found.id == 2


@pytest.mark.parametrize(
    ("value", "above", "below", "side"),
    [(0.3, 0.2, None, "above"), (0.2, 0.2, None, None), (5, None, 10, "below"), (None, 1, 1, None)],
)
def test_thresholds_are_strict(
    value: float | None, above: float | None, below: float | None, side: str | None
) -> None:
    """A figure equal to its threshold is not past it; no figure is never past one."""
    assert breach(value, above, below) == side


@pytest.mark.parametrize(
    ("metric", "value", "text"),
    [
        ("failure_rate", 0.344, "34 %"),
        ("duration_p95", 45, "45 s"),
        ("duration_p95", 750, "12 min 30 s"),
        ("queue_p95", 3900, "1 h 5 min"),
        ("cost_per_day", 1234.5, "$1,234.50"),
    ],
)
def test_figures_read_in_plain_words(metric: str, value: float, text: str) -> None:
    """Shares as percentages, seconds as minutes and hours, dollars with cents."""
    assert amount(metric, value) == text


def test_metric_titles_and_keys() -> None:
    """The title says the figure; the key leaves it out and names the rule; only it matches."""
    rule = AlertRule(name="ci", metric="failure_rate", above=0.2, window_hours=168)
    assert span(168) == "7 d"
    assert span(0.5) == "30 min"
    text = title(rule, "owner/repo CI", 0.34, "above")
    assert text == "failure rate of owner/repo CI is 34 % over the last 7 d, above 20 %"
    first = Problem(
        "metric", "warning", text, "", repository="owner/repo", workflow_id=3, rule="ci"
    )
    moved = Problem("metric", "warning", "other figure", "", None, "owner/repo", 3, rule="ci")
    assert alert_key(first) == alert_key(moved) == "metric|ci|owner/repo|3"
    catch_all = AlertRule(name="all problems")
    assert matching_rule(first, [catch_all, rule]) is rule
    failing = Problem("failing-branch", "warning", "x", "")
    assert matching_rule(failing, [rule, catch_all]) is catch_all
