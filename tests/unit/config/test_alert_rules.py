"""Alert rules in the YAML settings file: problem rules, metric rules, and refused ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controltower.config import load_settings
from controltower.errors import ConfigurationError

NOT_A_URL = r"alerts.channels: .*slack\[0\] is not a channel URL"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "telemetry.md"


def _documented_example() -> str:
    text = DOCS.read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    return next(block for block in blocks if "metric: failure_rate" in block)


def test_the_documented_rules_example_loads(tmp_path: Path) -> None:
    """The YAML example in docs/telemetry.md is valid settings with a metric rule in it."""
    config = tmp_path / "ct.yaml"
    config.write_text(_documented_example())
    rules = load_settings(config).alerts.rules
    metric = [rule for rule in rules if rule.metric is not None]
    assert [rule.metric for rule in metric] == ["failure_rate", "duration_p95"]
    assert metric[0].above == 0.2
    assert any(rule.metric is None and rule.kinds for rule in rules)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{name: r, metric: failure_rate}", "needs above or below"),
        ("{name: r, metric: failure_rate, above: 20}", "shares from 0 to 1"),
        ("{name: r, metric: duration_p95, below: -1}", "cannot be negative"),
        ("{name: r, kinds: [anomaly], above: 3}", "above and below need a metric"),
        ("{name: r, metric: speed, above: 3}", "alerts.rules.0.metric"),
    ],
)
def test_unusable_metric_rules_are_refused_with_a_reason(
    tmp_path: Path, rule: str, message: str
) -> None:
    """A rule that cannot be judged stops start-up with a message naming what to change."""
    config = tmp_path / "ct.yaml"
    config.write_text(f"alerts:\n  rules:\n    - {rule}\n")
    with pytest.raises(ConfigurationError, match=message):
        load_settings(config)


def test_rule_names_must_be_unique(tmp_path: Path) -> None:
    """Two rules of one name are refused: silences and alerts name rules."""
    config = tmp_path / "ct.yaml"
    config.write_text("alerts:\n  rules:\n    - {name: a}\n    - {name: a, kinds: [anomaly]}\n")
    with pytest.raises(ConfigurationError, match="unique: a repeated"):
        load_settings(config)


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ("{rule: [{name: a}]}", "alerts.rule: Extra inputs are not permitted"),
        (
            "{rules: [{name: r, metric: failure_rate, above: 0.2, min_run: 50}]}",
            "alerts.rules.0.min_run: Extra inputs are not permitted",
        ),
        ("{routes: {critical: [slak]}}", "routes.critical: no channel 'slak'"),
        ("{channels: {slack: [hooks.slack.com/services/T/B/X]}}", NOT_A_URL),
        ("{channels: {slack: ['']}}", NOT_A_URL),
    ],
)
def test_mistakes_inside_alerts_are_refused_naming_the_field(
    tmp_path: Path, alerts: str, message: str
) -> None:
    """A typo, an unknown channel or a URL without a scheme stops start-up; none is ignored."""
    config = tmp_path / "ct.yaml"
    config.write_text(f"alerts: {alerts}\n")
    with pytest.raises(ConfigurationError, match=message) as refused:
        load_settings(config)
    assert "hooks.slack.com" not in str(refused.value)  # a channel URL holds its secret


def test_routes_may_name_the_built_in_channels_and_those_defined(tmp_path: Path) -> None:
    """pagerduty and slack exist even when channels defines only others; routes reach those."""
    config = tmp_path / "ct.yaml"
    config.write_text(
        "alerts:\n  channels: {teams: ['msteams://a/b/c']}\n"
        "  routes: {critical: [teams, pagerduty], warning: [slack]}\n"
    )
    assert load_settings(config).alerts.urls("critical") == ["msteams://a/b/c"]


def test_routes_given_override_only_the_severities_they_name(tmp_path: Path) -> None:
    """Routing info to slack keeps critical to pagerduty and slack, and warning to slack."""
    config = tmp_path / "ct.yaml"
    config.write_text(
        "alerts:\n  channels: {slack: ['json://h/s'], pagerduty: ['json://h/p']}\n"
        "  routes: {info: [slack]}\n"
    )
    alerts = load_settings(config).alerts
    assert alerts.routes == {
        "critical": ["pagerduty", "slack"],
        "warning": ["slack"],
        "info": ["slack"],
    }
    assert alerts.urls("critical") == ["json://h/p", "json://h/s"]
    assert alerts.urls("info") == ["json://h/s"]


def test_a_route_given_empty_sends_that_severity_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``warning: []`` (here from the environment) is the dashboard only; critical keeps its."""
    monkeypatch.setenv("CONTROLTOWER_ALERTS__ROUTES", '{"warning": []}')
    alerts = load_settings().alerts
    assert alerts.routes["warning"] == []
    assert alerts.routes["critical"] == ["pagerduty", "slack"]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://ct.example.com/", "https://ct.example.com"),
        ("http://10.0.0.5:8000/ops", "http://10.0.0.5:8000/ops"),
        ("", None),
    ],
)
def test_the_public_url_of_the_dashboard(
    monkeypatch: pytest.MonkeyPatch, given: str, kept: str | None
) -> None:
    """``server.public_url`` (CONTROLTOWER_SERVER__PUBLIC_URL) is kept without a trailing slash."""
    monkeypatch.setenv("CONTROLTOWER_SERVER__PUBLIC_URL", given)
    assert load_settings().server.public_url == kept


def test_a_public_url_that_is_not_http_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL people cannot open from a notification stops start-up, naming the setting."""
    monkeypatch.setenv("CONTROLTOWER_SERVER__PUBLIC_URL", "ct.example.com")
    with pytest.raises(ConfigurationError, match=r"server\.public_url: .*http"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("pagerduty-events://?region=eu", "needs the integration's routing key"),
        ("pagerduty-events://KEY?region=mars", "region must be us or eu, not 'mars'"),
        ("pagerduty-events://KEY?timeout=0", "timeout must be a number of seconds"),
        ("pagerduty-events://KEY?timeout=soon", "timeout must be a number of seconds"),
        ("slack-webhook://T123", "needs the webhook's path"),
        ("slack-webhook://T1/B2/X3?endpoint=ftp://127.0.0.1", "endpoint must be an http"),
    ],
)
def test_a_url_controltower_sends_itself_is_checked_when_the_settings_load(
    tmp_path: Path, url: str, reason: str
) -> None:
    """Wrong now, not when the first alert fires (or, for a region it does not know, sent to
    the US); the URL is not repeated: it holds the channel's secret."""
    config = tmp_path / "settings.yaml"
    config.write_text(f"alerts:\n  channels:\n    pagerduty: ['{url}']\n")
    with pytest.raises(ConfigurationError, match=re.escape(reason)) as refused:
        load_settings(config)
    assert url not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "pagerduty-events://KEY",
        "pagerduty-events://KEY?region=EU&timeout=2.5",
        "slack-webhook://T1/B2/X3?endpoint=http://127.0.0.1:8080/hooks",
    ],
)
def test_native_urls_as_documented_are_accepted(tmp_path: Path, url: str) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(f"alerts:\n  channels:\n    pagerduty: ['{url}']\n")
    assert load_settings(config).alerts.channels["pagerduty"] == [url]
