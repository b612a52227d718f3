"""Risk factors: the features that pushed one prediction up or down, in words.

Contributions come from the model (LightGBM's ``pred_contrib``, in log-odds);
``risk_factors`` keeps the strongest few and phrases each from the value the
feature had, e.g. "failed 3 of the last 5 runs" or "large change: 1,200 lines".
A job's row (``jobs.JOB_INPUTS``: the run's features, then the job's) is
phrased the same way, its own features as "this job ...".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from controltower.intelligence.features import FEATURES

Values = Sequence[float] | Any  # a list or a NumPy row
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EVENT_NAMES = ("push", "pull request", "schedule", "manual dispatch", "other trigger")


@dataclass(frozen=True, slots=True)
class RiskFactor:
    """One feature's push on the failure prediction: positive raises the risk."""

    feature: str
    value: float
    effect: float
    phrase: str

    @property
    def told(self) -> str:
        """The phrase and which way it pushed: "failed 3 of the last 5 runs (raises the risk)"."""
        return f"{self.phrase} ({'raises' if self.effect > 0 else 'lowers'} the risk)"


def _pct(v: float) -> str:
    return f"{v:.0%}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:,.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _fails5(v: float) -> str:
    return f"failed {v:.0f} of the last 5 runs"


def _hours(v: float) -> str:
    """Hours, or days from two days on."""
    return f"{v / 24:,.1f} days" if v >= 48 else f"{v:,.1f} hours"


def _count(v: float, one: str, many: str | None = None) -> str:
    """``v`` things: "1 commit", "3 commits" (``many`` where the plural is not ``one`` + s)."""
    return f"{v:,.0f} {one if round(v) == 1 else (many or one + 's')}"


def _times(v: float) -> str:
    return _count(v, "time")


def _lines(v: float) -> str:
    return f"{'large' if v >= 500 else 'small'} change: {v:,.0f} lines"


PHRASES: dict[str, Callable[[float], str]] = {
    "event": lambda v: f"triggered by {EVENT_NAMES[min(int(v), 4)]}",
    "hour": lambda v: f"requested at {v:02.0f}:00 UTC",
    "weekday": lambda v: f"requested on a {WEEKDAYS[int(v) % 7]}",
    "default_branch": lambda v: "on the default branch" if v else "on a side branch",
    "pull_request": lambda v: "a pull request" if v else "not a pull request",
    "files_changed": lambda v: f"{_count(v, 'file')} changed",
    "lines_changed": _lines,
    "commits": lambda v: _count(v, "commit"),
    "wb_prev_failed": lambda v: f"the previous run on this branch {'failed' if v else 'passed'}",
    "wb_fail_streak": lambda v: (
        f"failed {_times(v)} in a row on this branch"
        if v
        else "the previous run on this branch did not fail"
    ),
    "wb_pass_streak": lambda v: (
        f"passed {_times(v)} in a row on this branch"
        if v
        else "the previous run on this branch did not pass"
    ),
    "wb_fails_last5": _fails5,
    "wb_fail_rate": lambda v: f"{_pct(v)} of this workflow's recent runs on this branch failed",
    "wb_runs": lambda v: f"{_count(v, 'earlier run')} of this workflow on this branch",
    "wb_hours_since": lambda v: f"{_hours(v)} since this branch's last run finished",
    "wf_fails_last5": lambda v: f"the workflow failed {v:.0f} of its last 5 runs",
    "wf_fail_rate": lambda v: f"{_pct(v)} of the workflow's recent runs failed",
    "repo_prev_failed": lambda v: f"the repository's last run {'failed' if v else 'passed'}",
    "repo_fails_last5": lambda v: f"the repository failed {v:.0f} of its last 5 runs",
    "repo_fail_rate": lambda v: f"{_pct(v)} of the repository's recent runs failed",
    "repo_fail_rate_all": lambda v: f"{_pct(v)} of all the repository's runs failed",
    "repo_runs": lambda v: f"{_count(v, 'earlier run')} in the repository",
    "hours_since_request": lambda v: f"{_hours(v)} since the previous run was requested",
    "in_flight": lambda v: f"{_count(v, 'other run')} in progress",
    "actor_fail_rate": lambda v: f"{_pct(v)} of this author's recent runs failed",
    "actor_runs": lambda v: f"{_count(v, 'earlier run')} by this author",
    "branch_fail_rate": lambda v: f"{_pct(v)} of recent runs of any workflow on this branch failed",
    "branch_runs": lambda v: f"{_count(v, 'earlier run')} of any workflow on this branch",
    "sha_prev_failed": lambda v: f"this commit already {'failed' if v else 'passed'} once",
    "base_prev_failed": lambda v: f"the previous run {'failed' if v else 'passed'}",
    # durations of successful runs (seconds)
    "dur_prev": lambda v: f"the workflow's last successful run took {_minutes(v)}",
    "dur_median5": lambda v: f"the workflow's last 5 successful runs took {_minutes(v)} (median)",
    "dur_median20": lambda v: f"its last 20 successful runs took {_minutes(v)} (median)",
    "dur_spread20": lambda v: f"its recent durations vary by {_pct(v)} of their median",
    "dur_wb_prev": lambda v: f"the last successful run on this branch took {_minutes(v)}",
    "base_dur_prev": lambda v: f"the last successful run took {_minutes(v)}",
    "base_dur_median5": lambda v: f"the last 5 successful runs took {_minutes(v)} (median)",
    "dur_event_median5": lambda v: (
        f"the last 5 successful runs of this trigger took {_minutes(v)} (median)"
    ),
    # a job's own record (``jobs.JOB_FEATURES``)
    "job_prev_failed": lambda v: f"this job {'failed' if v else 'passed'} last time",
    "job_fail_share": lambda v: f"this job's recent failure share is {_pct(v)}",
    "job_fails_last5": lambda v: f"this job failed {v:.0f} of its last 5 runs",
    "job_fail_streak": lambda v: (
        f"this job failed {_times(v)} in a row" if v else "this job's last run did not fail"
    ),
    "job_runs": lambda v: f"{_count(v, 'earlier run')} of this job",
    "job_blame": lambda v: f"this job failed in {_pct(v)} of the workflow's recent failed runs",
    "job_index": lambda v: f"job {v + 1:.0f} of the workflow",
    "jobs_expected": lambda v: f"{_count(v, 'job')} expected",
    "job_log_median5": lambda v: f"this job usually takes {_minutes(math.exp(v))}",
}


# what a missing value means, by the feature's name (first match): no history to read it from
MISSING: tuple[tuple[str, str], ...] = (
    ("wb_hours_since", "no earlier run of this workflow on this branch"),
    ("dur_spread20", "fewer than 5 earlier successful runs of this workflow"),
    ("dur_wb_", "no earlier successful run on this branch"),
    ("dur_event_", "no earlier successful run of this workflow for this trigger"),
    ("wb_", "no earlier run of this workflow on this branch"),
    ("wf_", "no earlier run of this workflow"),
    ("dur_", "no earlier successful run of this workflow"),
    ("repo_", "no earlier run in the repository"),
    ("actor_", "the author is not known"),
    ("branch_", "the branch is not known"),
    ("sha_", "this commit has not run before"),
    ("base_dur_", "no earlier successful run to compare with"),
    ("base_", "no earlier run to compare with"),
    ("hours_since_request", "no earlier run requested"),
    ("job_log_", "no earlier successful run of this job"),
    ("job_blame", "no failed run of the workflow to blame a job for"),
    ("job_", "no earlier run of this job"),
    ("files_changed", "the files changed are not known"),
    ("lines_changed", "the size of the change is not known"),
    ("commits", "the number of commits is not known"),
    ("event", "the trigger is not known"),
    ("hour", "the time of the request is not known"),
    ("weekday", "the time of the request is not known"),
    ("default_branch", "the branch is not known"),
    ("pull_request", "whether it is a pull request is not known"),
    ("in_flight", "the runs in progress are not known"),
    ("jobs_expected", "no earlier run of this workflow to expect jobs from"),
)


def phrase(feature: str, value: float) -> str:
    """The words for one feature's value (for a missing one, what is missing)."""
    if math.isnan(value):
        missing = (words for prefix, words in MISSING if feature.startswith(prefix))
        return next(missing, f"{feature.replace('_', ' ')} not known")
    words = PHRASES.get(feature)
    return words(value) if words else f"{feature.replace('_', ' ')}: {value:,.4g}"


def risk_factors(
    row: Values,
    contributions: Values,
    *,
    top: int = 3,
    minimum: float = 0.05,
    names: Sequence[str] = FEATURES,
) -> list[RiskFactor]:
    """The ``top`` strongest pushes (at least ``minimum`` log-odds), each told once.

    ``names`` are the model's inputs in order: the row's first columns and the
    contributions' (a run's rows carry more columns after them). Inputs that
    tell the same fact (the previous run and the streak it ends; missing values
    that all say the same history is missing) are told once, their pushes
    summed, in the words of the strongest; a value read from no history at
    all (a count of 0 runs) is told as that, not as a clean record.
    """
    values = {name: float(row[i]) for i, name in enumerate(names)}
    pushes = [(float(contributions[i]), name) for i, name in enumerate(names)]
    facts = _merged(pushes, values, lambda name: _fact(name, values))
    told = _merged(
        [(f.effect, f.feature) for f in facts], values, lambda name: in_context(name, values)
    )
    told.sort(key=lambda f: -abs(f.effect))
    return [f for f in told[:top] if abs(f.effect) >= minimum]


def _merged(
    pushes: list[tuple[float, str]], values: dict[str, float], key: Callable[[str], str]
) -> list[RiskFactor]:
    """One factor per ``key``: the pushes summed, told by the strongest of them."""
    groups: dict[str, list[tuple[float, str]]] = {}
    for effect, name in pushes:
        groups.setdefault(key(name), []).append((effect, name))
    factors = []
    for members in groups.values():
        _, name = max(members, key=lambda m: abs(m[0]))
        effect = sum(e for e, _ in members)
        factors.append(RiskFactor(name, values[name], effect, in_context(name, values)))
    return factors


# Inputs read from one record of runs, and the count of its runs.
COUNTED = {
    "wb_runs": ("wb_prev_failed", "wb_fail_streak", "wb_pass_streak", "wb_fails_last5",
                "wb_fail_rate"),
    "actor_runs": ("actor_fail_rate",),
    "branch_runs": ("branch_fail_rate",),
    "repo_runs": ("repo_prev_failed", "repo_fails_last5", "repo_fail_rate",
                  "repo_fail_rate_all"),
    "job_runs": ("job_prev_failed", "job_fail_share", "job_fails_last5", "job_fail_streak"),
}  # fmt: skip
COUNT_OF = {name: count for count, names in COUNTED.items() for name in (count, *names)}
NO_RUNS = {
    "wb_runs": "no earlier run of this workflow on this branch",
    "actor_runs": "no earlier run by this author",
    "branch_runs": "no earlier run of any workflow on this branch",
    "repo_runs": "no earlier run in the repository",
    "job_runs": "no earlier run of this job",
}
# Inputs that tell one fact: the previous run of the workflow on the branch and the streak it
# ends (the baseline's input is that run's outcome, else the repository's last run's).
SAME_FACT = {
    "wb_prev_failed": "previous",
    "wb_fail_streak": "previous",
    "wb_pass_streak": "previous",
    "repo_prev_failed": "repository's previous",
    "job_prev_failed": "job's previous",
    "job_fail_streak": "job's previous",
}


def _fact(name: str, values: dict[str, float]) -> str:
    if name == "base_prev_failed":
        known = not math.isnan(values.get("wb_prev_failed", math.nan))
        return "previous" if known else "repository's previous"
    return SAME_FACT.get(name, name)


def in_context(name: str, values: dict[str, float]) -> str:
    """The words for input ``name`` given the whole row: where the record it reads holds no
    run, that there is none (a streak of 0 is no clean record then)."""
    count = COUNT_OF.get(name)
    if count is not None and values.get(count) == 0.0:
        return NO_RUNS[count]
    return phrase(name, values[name])
