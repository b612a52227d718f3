"""Settings: YAML file, environment over file, and readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from controltower.config import load_settings
from controltower.errors import ConfigurationError


def test_environment_wins_over_the_yaml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value in CONTROLTOWER_ beats the same value in the file; the rest comes from the file."""
    config = tmp_path / "ct.yaml"
    config.write_text("database_url: sqlite:///from-file.db\nserver:\n  port: 9000\n")
    monkeypatch.setenv("CONTROLTOWER_DATABASE_URL", "sqlite:///from-env.db")
    settings = load_settings(config)
    assert settings.database_url == "sqlite:///from-env.db"
    assert settings.server.port == 9000


def test_nested_settings_come_from_double_underscore_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CONTROLTOWER_GITHUB__WEBHOOK_SECRET sets github.webhook_secret, kept secret."""
    monkeypatch.setenv("CONTROLTOWER_GITHUB__WEBHOOK_SECRET", "hush")
    settings = load_settings()
    assert settings.github.webhook_secret is not None
    assert settings.github.webhook_secret.get_secret_value() == "hush"
    assert "hush" not in repr(settings)


def test_defaults_put_database_and_queue_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without URLs, SQLite files in CONTROLTOWER_DATA_DIR hold the database and the queue."""
    monkeypatch.setenv("CONTROLTOWER_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'controltower.db'}"
    assert settings.resolved_queue_url == f"sqlite:///{tmp_path / 'queue.db'}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("server:\n  port: 70000\n", "server.port"),
        ("log_level: loud\n", "log_level"),
        ("no_such_setting: 1\n", "no_such_setting"),
        ("anomaly:\n  cost_warning_usd: 100\n  cost_critical_usd: 10\n", "cost_critical_usd"),
        ("anomaly:\n  time_critical_seconds: 10\n", "time_critical_seconds"),
        ("anomaly:\n  min_change_seconds: -5\n", "anomaly.min_change_seconds"),
        ("anomaly:\n  spike_max_severity: page\n", "anomaly.spike_max_severity"),
        ("github:\n  tokn: abc\n", "github.tokn: Extra inputs are not permitted"),
        ("retention:\n  days: 30\n", "retention.days: Extra inputs are not permitted"),
        ("telemetry:\n  problems:\n    backlog_warn: 3\n", "telemetry.problems.backlog_warn"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, content: str, message: str) -> None:
    """Invalid values and unknown keys, in any section, raise ConfigurationError naming what
    is wrong (a typo in a section was ignored, and its default silently applied)."""
    config = tmp_path / "ct.yaml"
    config.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        load_settings(config)


def test_missing_config_file_is_a_configuration_error(tmp_path: Path) -> None:
    """--config naming no file is refused before anything runs."""
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "absent.yaml")


def test_a_file_that_is_not_yaml_is_a_configuration_error(tmp_path: Path) -> None:
    """An unclosed bracket: the parser's place in the file, not a traceback."""
    path = tmp_path / "bad.yaml"
    path.write_text("github: [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"(?s)not valid YAML.*bad.yaml\", line 1"):
        load_settings(path)


def test_a_variable_that_is_not_the_json_it_must_be_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A list setting given as a bare name says which setting and where it came from."""
    monkeypatch.setenv("CONTROLTOWER_GITHUB__REPOSITORIES", "acme/api")
    with pytest.raises(ConfigurationError, match='field "github" from source "EnvSettingsSource"'):
        load_settings()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"- github\n- alerts\n", "must hold settings by name \\(a mapping\\), not a list"),
        (b"just words\n", "must hold settings by name \\(a mapping\\), not str"),
        (b"\xff\xfe\x00", "cannot be read: 'utf-8' codec"),
    ],
)
def test_a_file_that_holds_no_settings_by_name_is_a_configuration_error(
    tmp_path: Path, text: bytes, reason: str
) -> None:
    """A list, a word, bytes that are no text: said, not a traceback."""
    path = tmp_path / "settings.yaml"
    path.write_bytes(text)
    with pytest.raises(ConfigurationError, match=reason):
        load_settings(path)
