"""``serve`` warns when it listens beyond this machine with no API token."""

from __future__ import annotations

import pytest

from controltower.cli.serve import _loopback


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("::", False),
        ("ci.example.com", False),
    ],
)
def test_only_loopback_addresses_count_as_local(host: str, local: bool) -> None:
    """Every other address, and any name but localhost, may be reached from elsewhere."""
    assert _loopback(host) is local
