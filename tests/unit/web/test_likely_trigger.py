"""The likely trigger of an anomaly in words, as the overview and the anomalies page say it."""

from __future__ import annotations

from typing import Any

from controltower.web.pages.filters import templates


def _said(trigger: dict[str, str] | None) -> str:
    macro: Any = templates.env.get_template("macros.html").module.likely_trigger  # type: ignore[attr-defined]
    return " ".join(str(macro(trigger)).split())


def test_a_change_shared_with_other_repositories_points_outside_and_drops_the_commit() -> None:
    shared = {
        "commit": "91deabaed46769e8",
        "shared_with": "facebook/stetho, sleekbyte/tailor, spf13/viper",
        "shared_repositories": "5",
        "shared_within": "3 h",
        "shared_chance": "2.8e-06",
    }
    said = _said(shared)
    assert said.startswith(
        '<span class="shared">also in 5 other repositories within 3 h'
        " (facebook/stetho, sleekbyte/tailor, spf13/viper, …): likely a cause outside"
    )
    assert "commit" not in said
    assert "also in 1 other repository within" in _said({**shared, "shared_repositories": "1"})


def test_a_change_of_its_own_names_the_runner_and_the_commit() -> None:
    said = _said({"new_runner": "macos", "previous_runner": "linux", "commit": "abcdef1234567"})
    assert said == "runner macos instead of linux, first run of commit <code>abcdef1234</code>"
    assert _said(None) == "–"
