"""The options of the benchmarks that users pass numbers to refuse what cannot work."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.live_replay import positive


def test_counts_of_points_passes_and_series_are_whole_numbers_of_at_least_one() -> None:
    assert positive("3") == 3
    for bad in ("0", "-2", "1.5", "many"):
        with pytest.raises(argparse.ArgumentTypeError, match="at least 1"):
            positive(bad)


def test_the_replay_refuses_a_pass_every_zero_points_before_reading_anything() -> None:
    """Exit 2 with the option named, before any database is opened (the URL names none)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.live_replay", "--every", "0"],
        capture_output=True,
        text=True,
        env={"CONTROLTOWER_DATABASE_URL": "sqlite:////nonexistent/dir/x.db", "PATH": ""},
        check=False,
        cwd=Path(__file__).parents[2],
        timeout=120,
    )
    assert done.returncode == 2
    assert "--every: must be a whole number of at least 1, not '0'" in done.stderr
