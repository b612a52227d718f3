"""``controltower model evaluate --jobs``: per-job predictions scored by the protocol's split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from controltower.cli.context import database, output_console, print_json

RunKey = tuple[str, str, int]


def _from_file(path: Path) -> tuple[list[Any], dict[RunKey, Any]]:
    from controltower.errors import RecordRejected
    from controltower.ingest.history import parse_record
    from controltower.ingest.transfer import read_records
    from controltower.intelligence.jobs import job_attempts
    from controltower.intelligence.records import from_fact

    runs, jobs = [], {}
    for line in read_records(path):
        if isinstance(line.record, RecordRejected):
            continue
        try:
            fact = parse_record(line.record).fact
        except RecordRejected:
            continue
        runs.append(from_fact(fact))
        if fact.jobs:
            jobs[(fact.repository, fact.run_id, fact.attempt)] = job_attempts(fact.jobs)
    return runs, jobs


def _from_database(settings: Any) -> tuple[list[Any], dict[RunKey, Any]]:
    from controltower.intelligence.job_serving import stored_jobs
    from controltower.intelligence.source import stored_history

    with database(settings, migrate=True) as engine:
        with engine.connect() as conn:
            jobs = stored_jobs(conn)
        return list(stored_history(engine)), dict(jobs)


def job_report(
    settings: Any, dataset: Path | None, *, seed: int = 0, on_validation: bool = False
) -> dict[str, Any] | None:
    """The per-job report of a history file or of the database (None: no run has jobs)."""
    from controltower.intelligence.job_evaluation import evaluate_jobs

    runs, jobs = _from_file(dataset) if dataset is not None else _from_database(settings)
    if not jobs:
        return None
    return evaluate_jobs(runs, jobs, seed=seed, on_validation=on_validation)


def margin_words(margin: dict[str, Any]) -> str:
    """The model's difference from the better baseline, and its resampled 95% interval."""
    low, high = margin["low"], margin["high"]
    text = f"{margin['difference']:+.3f} ({low:+.3f} to {high:+.3f})"
    return text if low > 0 or high < 0 else f"[dim]{text}[/]"


def print_job_report(report: dict[str, Any], json_output: bool) -> None:
    """The report as JSON, or as one table per section and way."""
    if json_output:
        print_json(report)
        return
    console = output_console()
    for section in ("outcome", "duration"):
        for way in ("pooled", "mean_over_repositories"):
            figures = report[section][way]
            margins = report.get("margins", {}).get(section, {}).get(way, {})
            table = Table(title=f"jobs, {section}, {way.replace('_', ' ')}")
            table.add_column("figure")
            for name in figures:
                table.add_column(name, justify="right")
            if margins:
                table.add_column("model's margin (95%)", justify="right")
            for figure in next(iter(figures.values())):
                values = (figures[name][figure] for name in figures)
                shown = ["–" if v is None else f"{v:.3f}" for v in values]
                if margins:
                    shown.append(margin_words(margins[figure]) if figure in margins else "")
                table.add_row(figure, *shown)
            console.print(table)
    console.print(
        f"test runs with jobs: {report['test_runs_with_jobs']}; test jobs: {report['test_jobs']};"
        f" expected (predicted): {report['expected']}; served: {report['served']}"
    )
