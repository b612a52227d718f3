"""What the recorder counts as going on, against when the detectors settle a change's kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from controltower.anomaly.detection import detect
from controltower.anomaly.findings import Finding
from controltower.anomaly.model import Point
from controltower.anomaly.recording import _going_on
from controltower.anomaly.tuning import Tuning
from tests.support.series import wandering_ramp

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _points(values: np.ndarray) -> list[Point]:
    return [Point(T0 + timedelta(hours=i), float(v)) for i, v in enumerate(values)]


# The ramp's first crossing is judged a shift; told there, not summed anew as a wobble.
TOLD_AT_FIRST_CROSSING = Tuning(wobble_restart=False)


def _finding(values: np.ndarray) -> Finding:
    (change,) = detect(_points(values), TOLD_AT_FIRST_CROSSING)
    return Finding("ci / build", "duration", "s", change, None, None)


def test_a_change_is_going_on_until_the_pass_that_settles_its_kind() -> None:
    """A slow ramp in wandering noise is told a shift until a window after its alarm, then a
    drift: the pass that first sees the drift still records it as going on, the next not."""
    values = wandering_ramp(3)
    tuning = Tuning()
    alarm = _finding(values).anomaly.index
    last_shift = alarm + tuning.window  # points in the last pass that tells a shift
    shift = _finding(values[:last_shift])
    assert shift.anomaly.kind == "level_shift"
    assert _going_on(shift, last_shift, tuning)
    settled = _finding(values[: last_shift + 1])
    assert settled.anomaly.kind == "drift"
    assert _going_on(settled, last_shift + 1, tuning)
    assert not _going_on(_finding(values[: last_shift + 2]), last_shift + 2, tuning)
