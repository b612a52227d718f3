"""DORA keys: frequency, lead time, change failure rate, time to restore, and their bands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controltower.telemetry.dora import DeploymentEvent, dora, frequency_band

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _d(
    hours: float,
    ok: bool,
    *,
    env: str = "production",
    lead_h: float | None = 2.0,
    repo: str = "o/r",
) -> DeploymentEvent:
    finished = T0 + timedelta(hours=hours)
    started = finished - timedelta(hours=lead_h) if lead_h is not None else None
    return DeploymentEvent(repo, env, finished, ok, started)


def test_four_keys_from_a_week_of_deployments() -> None:
    """14 deployments in 7 days, one failure restored 30 minutes later, 2 h lead times."""
    events = [_d(h * 12, True) for h in range(13)] + [_d(40, False)]
    events.append(_d(40.5, True))
    result = dora(events, window_days=7)
    assert result.deployments == 15
    assert result.deployment_frequency.value == pytest.approx(14 / 7)
    assert result.deployment_frequency.band == "elite"
    assert result.lead_time.value == pytest.approx(7200)
    assert result.lead_time.band == "elite"
    assert result.change_failure_rate.value == pytest.approx(1 / 15)
    assert result.change_failure_rate.band == "high"
    assert result.time_to_restore.value == pytest.approx(1800)
    assert result.time_to_restore.band == "elite"


def test_unrestored_failure_lowers_coverage_not_the_figure() -> None:
    """A failure not yet followed by a success is eligible but not covered."""
    events = [_d(0, False), _d(1, True), _d(5, False, env="staging")]
    restore = dora(events, window_days=1).time_to_restore
    assert (restore.covered, restore.eligible) == (1, 2)
    assert restore.coverage == 0.5
    assert restore.value == pytest.approx(3600)


def test_restoration_is_per_environment() -> None:
    """A success in another environment does not restore a broken one."""
    events = [_d(0, False, env="production"), _d(1, True, env="staging")]
    assert dora(events, window_days=1).time_to_restore.value is None


def test_lead_time_coverage_counts_deployments_with_a_known_change_start() -> None:
    """Successful deployments without commit times are eligible but not covered."""
    result = dora([_d(0, True, lead_h=None), _d(1, True, lead_h=30)], window_days=30)
    assert (result.lead_time.covered, result.lead_time.eligible) == (1, 2)
    assert result.lead_time.band == "high"  # 30 hours: between a day and a week


def test_no_deployments_gives_no_figures() -> None:
    """An empty window reports nothing rather than a zero frequency band."""
    result = dora([], window_days=30)
    assert result.deployment_frequency.value is None
    assert result.change_failure_rate.value is None
    assert result.time_to_restore.coverage is None


@pytest.mark.parametrize(
    ("per_day", "band"),
    [
        (3, "elite"),
        (1, "elite"),
        (0.5, "high"),
        (1 / 7, "high"),
        (0.1, "medium"),
        (1 / 30, "medium"),
        (0.01, "low"),
    ],
)
def test_deployment_frequency_bands(per_day: float, band: str) -> None:
    """Daily or more is elite, weekly high, monthly medium, less is low."""
    assert frequency_band(per_day) == band
