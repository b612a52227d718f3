"""Alert rules in the YAML settings file: problem rules, metric rules, and refused ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controltower.config import load_settings
from controltower.errors import ConfigurationError

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
