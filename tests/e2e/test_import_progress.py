"""On a terminal, ``import`` shows a progress bar; piped, it prints only the summary."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tests.support.paths import DATASETS
from tests.support.server import cli_env

SAMPLE = DATASETS / "gha-flask-requests-django-petclinic.jsonl.gz"


def test_import_on_a_terminal_draws_a_progress_bar(tmp_path: Path) -> None:
    """Run under a pseudo-terminal, the import's stderr carries Rich's bar and record count."""
    env = cli_env(data_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path / 'ct.db'}")
    env["COLUMNS"] = "100"
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "controltower", "import", str(SAMPLE)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=120) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode(errors="replace"))
    assert "importing" in text
    assert "2477/" in text or "2477 records" in text
    assert "━" in text  # the bar itself
    assert "2477 records: 2477 stored" in text


def test_import_without_a_terminal_prints_no_bar(tmp_path: Path) -> None:
    """Piped output has the summary and no progress bar."""
    env = cli_env(data_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path / 'ct.db'}")
    result = subprocess.run(
        [sys.executable, "-m", "controltower", "import", str(SAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0
    assert "━" not in result.stderr
    assert "2477 records: 2477 stored" in result.stderr
