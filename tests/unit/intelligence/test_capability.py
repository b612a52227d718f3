"""The prediction mode now: a stored switch, else the settings; ml_enabled=false wins."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from controltower.config import Settings
from controltower.intelligence.capability import effective
from controltower.intelligence.rollout import exposure
from controltower.store.capabilities import Switch


def _settings(tmp_path: Path, **update: object) -> Settings:
    return Settings(data_dir=tmp_path, intelligence={"mode": "on"}, **update)  # type: ignore[arg-type]


def _switch(mode: str) -> Switch:
    return Switch("prediction", mode, datetime(2026, 1, 1, tzinfo=UTC), "cli:ana", "incident")


def test_a_stored_switch_wins_over_the_settings(tmp_path: Path) -> None:
    """Settings say on, the switch says off: off, from the switch."""
    current = effective(_settings(tmp_path), "prediction", _switch("off"))
    assert (current.mode, current.source) == ("off", "switch")
    assert not current.predicts
    assert not current.shows


def test_without_a_switch_the_settings_hold(tmp_path: Path) -> None:
    """No switch stored: the settings' mode."""
    current = effective(_settings(tmp_path), "prediction", None)
    assert (current.mode, current.source, current.shows) == ("on", "settings", True)


def test_enabled_false_stops_prediction_whatever_the_switch_says(tmp_path: Path) -> None:
    """The master kill switch: everything but collection stops acting, prediction included."""
    current = effective(_settings(tmp_path, enabled=False), "prediction", _switch("on"))
    assert (current.mode, current.source, current.predicts) == ("off", "enabled", False)


def test_ml_enabled_false_wins_over_any_switch(tmp_path: Path) -> None:
    """The environment kill switch reads off whatever was switched."""
    current = effective(_settings(tmp_path, ml_enabled=False), "prediction", _switch("on"))
    assert (current.mode, current.source) == ("off", "ml_enabled")


@pytest.mark.parametrize(
    ("mode", "predict", "show"),
    [("off", False, False), ("shadow", True, False), ("on", True, True)],
)
def test_exposure_follows_the_mode_given_over_the_settings(
    tmp_path: Path, mode: str, predict: bool, show: bool
) -> None:
    """A live mode replaces the settings' mode in the rollout decision."""
    decided = exposure(_settings(tmp_path), "o/r", "1", mode)
    assert (decided.predict, decided.show) == (predict, show)
    assert mode in decided.reason
