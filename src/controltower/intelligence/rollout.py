"""Gradual rollout: whether a run is predicted at all, and whether its prediction is shown.

A pure function of the settings, the mode and the run. The mode is the one
switched live (``capability``), else the settings'; ``CONTROLTOWER_ML_ENABLED=false``
wins over every mode; ``off`` predicts nothing; ``shadow`` predicts and stores
(so predictions are scored) but never shows; ``canary`` shows for allow-listed
repositories and for a share of runs chosen by a hash of the run id, the same
for every attempt and every process; ``on`` shows everywhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from controltower.config import Settings


@dataclass(frozen=True, slots=True)
class Exposure:
    """What to do with one run's prediction, and why."""

    predict: bool
    show: bool
    reason: str


def canary_bucket(repository: str, run_id: str) -> float:
    """A number in [0, 1) fixed by the run: runs below the canary share are shown. The
    repository counts in any case, as on GitHub (``Octo/App`` is ``octo/app``)."""
    digest = hashlib.sha256(f"{repository.lower()}#{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


FIXED = {
    "off": Exposure(predict=False, show=False, reason="prediction mode is off"),
    "shadow": Exposure(predict=True, show=False, reason="prediction mode is shadow"),
    "on": Exposure(predict=True, show=True, reason="prediction mode is on"),
}
DISABLED = Exposure(
    predict=False, show=False, reason="prediction is disabled (enabled or ml_enabled)"
)


def exposure(
    settings: Settings, repository: str, run_id: str | None, mode: str | None = None
) -> Exposure:
    """The exposure of a run (``run_id`` None: a hypothetical run, shown only by allow-list).

    ``mode`` is the prediction mode now (None: the settings' ``intelligence.mode``).
    """
    rollout = settings.intelligence
    mode = rollout.mode if mode is None else mode
    if not settings.enabled or not settings.ml_enabled:
        return DISABLED
    if mode in FIXED:
        return FIXED[mode]
    # as GitHub, any case: Octo/App in the settings is the stored octo/app
    if repository.lower() in {name.lower() for name in rollout.canary_repositories}:
        return Exposure(predict=True, show=True, reason="repository is in the canary allow-list")
    if run_id is not None and canary_bucket(repository, run_id) < rollout.canary_share:
        return Exposure(predict=True, show=True, reason="run is in the canary share")
    return Exposure(predict=True, show=False, reason="outside the canary: shadow")
