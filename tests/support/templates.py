"""Databases prepared once and copied for each test that needs its own.

Importing a real dataset takes seconds; copying the SQLite file it leaves
takes milliseconds. A test that gets a copy may write to it freely: the
template and every other copy stay as they were.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def copy_database(template: Path, target: Path) -> str:
    """Copy the SQLite file ``template`` to ``target``; the copy's URL.

    SQLite's backup API, not a file copy: the template is in WAL mode and a
    file copy could miss what is still in its write-ahead log.
    """
    source = sqlite3.connect(template)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return f"sqlite:///{target}"
