"""Versions' models kept loaded in a process (``registry.LoadedVersions``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, create_engine

from controltower.intelligence.registry import LoadedVersions, VersionInfo


def _info(version: int, registered: datetime) -> Any:
    class Info:  # only what the keeping reads
        pass

    info = Info()
    info.version, info.created_at = version, registered  # type: ignore[attr-defined]
    return info


def test_the_versions_used_last_are_kept_and_the_rest_loaded_again() -> None:
    """Three kept: a fourth version drops the one used longest ago, which loads again; one
    used meanwhile stays. A version registered again under the same number (a database
    emptied and filled again) is another version."""
    loads: list[int] = []

    def load(conn: Connection, info: VersionInfo) -> Any:
        loads.append(info.version)
        return ("models of", info.version)

    kept = LoadedVersions(3, load)
    t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        for version in (1, 2, 3, 1, 4):
            got: Any = kept.models(conn, _info(version, t0))
            assert got == ("models of", version)
        assert loads == [1, 2, 3, 4]  # 1 used again before 4 came: 2 was dropped
        assert len(kept) == 3
        kept.models(conn, _info(2, t0))
        kept.models(conn, _info(1, t0))
        assert loads == [1, 2, 3, 4, 2]
        kept.models(conn, _info(1, t1))
        assert loads == [1, 2, 3, 4, 2, 1]
