"""Rollout: which runs are predicted and which predictions are shown, by mode and switch."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from controltower.config import Settings
from controltower.intelligence.rollout import canary_bucket, exposure


def _settings(**intelligence: Any) -> Settings:
    return Settings(intelligence=intelligence)


@pytest.mark.parametrize(
    ("mode", "predict", "show"),
    [("off", False, False), ("shadow", True, False), ("on", True, True)],
)
def test_fixed_modes(mode: str, predict: bool, show: bool) -> None:
    """off predicts nothing, shadow predicts without showing, on shows."""
    decided = exposure(_settings(mode=mode), "octo/app", "1")
    assert (decided.predict, decided.show) == (predict, show)


def test_the_kill_switch_wins_over_every_mode() -> None:
    """ml_enabled false: nothing predicted, even with mode on."""
    settings = Settings(ml_enabled=False, intelligence={"mode": "on"})
    decided = exposure(settings, "octo/app", "1")
    assert not decided.predict
    assert "ml_enabled" in decided.reason


def test_canary_shows_a_deterministic_share_of_runs() -> None:
    """About the configured share of run ids is shown, the same ones every time."""
    settings = _settings(mode="canary", canary_share=0.2)
    shown = [exposure(settings, "octo/app", str(i)).show for i in range(5000)]
    again = [exposure(settings, "octo/app", str(i)).show for i in range(5000)]
    assert shown == again
    assert 0.17 < sum(shown) / len(shown) < 0.23
    assert all(exposure(settings, "octo/app", str(i)).predict for i in range(100))


def test_canary_allow_list_shows_every_run_and_hypothetical_runs() -> None:
    """Allow-listed repositories are shown; others' hypothetical runs are not."""
    settings = _settings(mode="canary", canary_share=1.0, canary_repositories=["octo/app"])
    assert exposure(settings, "octo/app", None).show
    assert not exposure(settings, "octo/other", None).show
    assert exposure(settings, "octo/other", "7").show


def test_canary_allow_list_names_repositories_in_any_case() -> None:
    """``Octo/App`` in the settings allows ``octo/app``, as GitHub takes either."""
    settings = _settings(mode="canary", canary_share=0.0, canary_repositories=["Octo/App"])
    assert exposure(settings, "octo/app", None).show
    assert exposure(settings, "OCTO/APP", "7").show
    assert not exposure(settings, "octo/app2", "7").show


def test_canary_bucket_is_in_the_unit_interval() -> None:
    """Buckets are fractions in [0, 1)."""
    assert all(0 <= canary_bucket("r", str(i)) < 1 for i in range(100))


def test_canary_bucket_takes_repositories_in_any_case() -> None:
    """A run is in the canary or not whatever the case its repository is named in, and a name
    already in lower case keeps the bucket it had."""
    for run_id in ("1", "42", "9999"):
        digest = hashlib.sha256(f"octo/app#{run_id}".encode()).digest()
        before = int.from_bytes(digest[:8], "big") / 2**64
        assert canary_bucket("octo/app", run_id) == before
        assert canary_bucket("Octo/App", run_id) == before
        assert canary_bucket("OCTO/APP", run_id) == before
    settings = _settings(mode="canary", canary_share=0.5)
    shown = [exposure(settings, "octo/app", str(i)).show for i in range(200)]
    assert [exposure(settings, "Octo/App", str(i)).show for i in range(200)] == shown
