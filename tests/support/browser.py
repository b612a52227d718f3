"""Debian's Chromium driven by Playwright for the dashboard's tests, and what every page must pass.

Chromium comes from the machine (``apt-get install chromium``): Playwright
cannot download a browser here. Missing, it fails the tests in CI and skips
them elsewhere.
"""

from __future__ import annotations

from tests.support.paths import REPO

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = REPO / "test-artifacts" / "screenshots"

A11Y_PROBLEMS = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push("html has no lang");
  if (document.querySelectorAll("h1").length !== 1) problems.push("not exactly one h1");
  for (const el of document.querySelectorAll("input, select")) {
    if (!el.labels || el.labels.length === 0) problems.push("unlabelled field " + el.name);
  }
  for (const el of document.querySelectorAll("table")) {
    if (!el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
      problems.push("unnamed table");
  }
  for (const el of document.querySelectorAll("a")) {
    if (!(el.getAttribute("aria-label") || el.textContent).trim())
      problems.push("empty link " + el.href);
  }
  for (const el of document.querySelectorAll(".chart")) {
    if (el.getAttribute("role") !== "img" || !el.getAttribute("aria-label"))
      problems.push("chart without a text alternative");
  }
  for (const el of document.querySelectorAll("nav")) {
    if (!el.getAttribute("aria-label")) problems.push("unnamed nav");
  }
  return problems;
}"""
