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

# Layout faults of the drawn charts: a plot squeezed too flat for its rows, tick labels cut off
# at the chart's edge, the legend covering axis labels, category labels on top of each other.
CHART_PROBLEMS = """() => {
  const problems = [];
  const overlap = (a, b) =>
    a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  document.querySelectorAll(".chart").forEach((chart, n) => {
    const svg = chart.querySelector(".main-svg");
    if (!svg || svg.getBoundingClientRect().height === 0) return;
    const box = svg.getBoundingClientRect();
    const name = "chart " + (chart.getAttribute("aria-label") || n);
    const ticks = [...chart.querySelectorAll(".xtick text, .ytick text")];
    const plot = chart.querySelector(".nsewdrag");
    const rows = chart.querySelectorAll(".ytick").length;
    if (plot && plot.getBoundingClientRect().height < Math.max(60, 14 * rows))
      problems.push(name + ": plot area too flat for its " + rows + " rows");
    for (const t of ticks) {
      const r = t.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
          || r.bottom > box.bottom + 1)
        problems.push(name + ": tick label cut off: " + t.textContent);
    }
    const legend = chart.querySelector(".legend");
    if (legend) {
      const l = legend.getBoundingClientRect();
      for (const t of [...ticks, ...chart.querySelectorAll(".g-xtitle, .g-ytitle")])
        if (overlap(l, t.getBoundingClientRect()))
          problems.push(name + ": legend covers " + t.textContent);
    }
    const labels = [...chart.querySelectorAll(".ytick text")].map((t) => t.getBoundingClientRect());
    for (let i = 1; i < labels.length; i++)
      if (overlap(labels[i - 1], labels[i])) problems.push(name + ": axis labels overlap");
  });
  return problems;
}"""
