"""BLAS kept to one thread in controltower's processes, unless the environment says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from controltower.cli import app as cli_app
from controltower.threads import BLAS_VARIABLES

REPORT = (
    "import threadpoolctl;"
    "print(max(i['num_threads'] for i in threadpoolctl.threadpool_info()"
    " if i['user_api'] == 'blas'))"
)


def _blas_threads(code: str, **environment: str) -> int:
    """The BLAS threads a new Python process reports after running ``code``."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARIABLES} | environment
    done = subprocess.run(
        [sys.executable, "-c", f"{code};{REPORT}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout.split()[-1])


def test_numpy_loaded_after_the_limit_starts_one_blas_thread() -> None:
    """The variables are set before NumPy loads, so its BLAS starts with one thread."""
    assert _blas_threads("import numpy", OPENBLAS_NUM_THREADS="2") == 2  # the machine allows two
    code = "from controltower.threads import limit_blas_threads as l; assert l(); import numpy"
    assert _blas_threads(code) == 1


def test_numpy_loaded_before_the_limit_is_set_to_one_thread_too() -> None:
    """Where NumPy had already loaded its BLAS, the loaded library is limited as well."""
    code = "import numpy; from controltower.threads import limit_blas_threads as l; assert l()"
    assert _blas_threads(code) == 1


def test_a_number_the_environment_gives_stands() -> None:
    """An operator's OPENBLAS_NUM_THREADS is kept, and the call says it changed nothing."""
    code = "import numpy; from controltower.threads import limit_blas_threads as l; assert not l()"
    assert _blas_threads(code, OPENBLAS_NUM_THREADS="2") == 2


def test_the_command_line_limits_blas_before_running_a_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``controltower`` (and ``python -m controltower``) limits the threads first."""
    calls: list[str] = []
    monkeypatch.setattr(cli_app, "limit_blas_threads", lambda: calls.append("limited"))
    with pytest.raises(SystemExit):
        cli_app.main(["--help"])
    assert calls == ["limited"]
