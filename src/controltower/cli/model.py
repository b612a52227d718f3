"""``controltower model``: prediction models, evaluated by the protocol of the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from controltower.cli.context import configured, database, output_console, print_json
from controltower.cli.job_report import job_report, margin_words, print_job_report
from controltower.domain.limits import INT32_MAX

app = typer.Typer(help="Prediction of run duration and failure.", no_args_is_help=True)

# An interval's coverage is judged against the target band, not against another predictor.
COVERAGE_TARGET = (0.75, 0.85)
BASELINES = {"outcome": ("previous", "always_pass"), "duration": ("previous", "median5")}
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _history_path(path: Path | None) -> Path | None:
    """``path`` where it is a history file; a usage error (exit 2) otherwise."""
    from controltower.errors import RecordRejected
    from controltower.ingest.transfer import file_format

    if path is None:
        return None
    if not path.is_file():
        raise typer.BadParameter(f"{path}: no such file")
    try:
        file_format(path)
    except RecordRejected as exc:
        raise typer.BadParameter(str(exc)) from exc
    return path


@app.command("evaluate")
def evaluate_command(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset",
            help="Evaluate on a history file instead of the database.",
            callback=_history_path,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the models.")] = 0,
    jobs: Annotated[
        bool, typer.Option("--jobs", help="Evaluate the per-job predictions instead.")
    ] = False,
    on_validation: Annotated[
        bool,
        typer.Option(
            "--on-validation",
            help="Score the validation slice (the latest runs before the test period) instead "
            "of the test period, learning from the runs before it: for choosing settings.",
        ),
    ] = False,
) -> None:
    """Evaluate the models beside the baselines (shared/spec/prediction-evaluation.md)."""
    from controltower.intelligence.evaluation import evaluate

    settings = configured(ctx)
    if jobs:
        found = job_report(settings, dataset, seed=seed, on_validation=on_validation)
        if found is None:
            typer.secho("no run history with jobs to evaluate on", err=True, fg="red")
            raise typer.Exit(1)
        print_job_report(found, json_output)
        return
    runs = _history_file(dataset) if dataset is not None else _stored(settings)
    if not runs:
        typer.secho("no run history to evaluate on", err=True, fg="red")
        raise typer.Exit(1)
    from lightgbm.basic import LightGBMError

    from controltower.errors import OneOutcome

    try:
        report = evaluate(runs, seed=seed, on_validation=on_validation)
    except LightGBMError as exc:  # no runs left to learn from before the test period
        typer.secho(
            f"too little run history to evaluate on ({len(runs)} runs): the models learn from "
            f"the runs before each repository's test period, and there were none ({exc})",
            err=True,
            fg="red",
        )
        raise typer.Exit(1) from exc
    except OneOutcome as exc:
        typer.secho(
            f"too little run history to evaluate on ({len(runs)} runs): {exc}", err=True, fg="red"
        )
        raise typer.Exit(1) from exc
    if json_output:
        print_json(report)
    else:
        _print_report(report)


def _stored(settings: Any) -> list[Any]:
    from controltower.intelligence.source import stored_history

    with database(settings) as engine:  # reads: changes no schema
        return list(stored_history(engine))


def _history_file(path: Path) -> list[Any]:
    from controltower.errors import RecordRejected
    from controltower.ingest.history import parse_record
    from controltower.ingest.transfer import read_records
    from controltower.intelligence.records import from_fact

    runs, rejected = [], 0
    for line in read_records(path):
        try:
            if isinstance(line.record, RecordRejected):
                raise line.record
            runs.append(from_fact(parse_record(line.record).fact))
        except RecordRejected:
            rejected += 1
    if rejected:
        output_console(stderr=True).print(f"[yellow]{rejected} records left out as invalid[/]")
    return runs


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _verdict(section: str, figure: str, figures: dict[str, dict[str, float | None]]) -> str:
    from controltower.intelligence.margins import LOWER_IS_BETTER

    model = figures["model"][figure]
    base = [v for b in BASELINES[section] if (v := figures[b][figure]) is not None]
    if model is None:
        return "–"
    if figure == "coverage_80":
        low, high = COVERAGE_TARGET
        met = "[green]met[/]" if low <= model <= high else "[red]missed[/]"
        return f"target {low:.2f}–{high:.2f}: {met}"
    if not base:
        return "no baseline"
    low = figure in LOWER_IS_BETTER
    best = min(base) if low else max(base)
    won = model < best if low else model > best
    return "[green]won[/]" if won else "[red]lost[/]"


def _print_report(report: dict[str, Any]) -> None:
    console = output_console()
    for section in ("outcome", "duration"):
        for way in ("pooled", "mean_over_repositories"):
            figures = report[section][way]
            table = Table(title=f"{section}, {way.replace('_', ' ')}")
            table.add_column("figure")
            for name in figures:
                table.add_column(name, justify="right")
            table.add_column("model vs better baseline")
            margins = report.get("margins", {}).get(section, {}).get(way, {})
            for figure in next(iter(figures.values())):
                verdict = _verdict(section, figure, figures)
                if figure in margins:
                    verdict += f", {margin_words(margins[figure])}"
                table.add_row(figure, *(_fmt(figures[name][figure]) for name in figures), verdict)
            console.print(table)
        _print_per_repository(console, section, report[section]["per_repository"])
    scored = "validation runs (not the test period)" if "scored_on" in report else "test runs"
    console.print(f"{scored}: {report['test_runs']}; excluded: {report['excluded']}")
    console.print(
        "beside a verdict: the model minus the better baseline, and in brackets the 2.5th to "
        "97.5th percentile of that over resamples of the runs scored (dim where it spans zero)"
    )


def _print_per_repository(console: Console, section: str, per_repo: dict[str, Any]) -> None:
    key = ("f1", "auc") if section == "outcome" else ("mdape", "within_20")
    table = Table(title=f"{section}, per repository")
    table.add_column("repository", no_wrap=True)
    names = list(next(iter(per_repo.values()))) if per_repo else []
    for figure in key:
        for name in names:
            table.add_column(f"{figure} {name}", justify="right")
    for repository, figures in per_repo.items():
        table.add_row(repository, *(_fmt(figures[n][f]) for f in key for n in names))
    console.print(table)


def _print_versions(summaries: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    columns = (
        "version",
        "status",
        "created",
        "runs",
        "failure",
        "duration",
        "jobs",
        "job durations",
        "F1 model/prev",
    )
    for column in columns:
        table.add_column(column)
    for s in summaries:
        f1 = s["failure_f1"]
        table.add_row(
            str(s["version"]),
            s["status"],
            s["created_at"][:19],
            str(s["trained_runs"])
            + (f" (as of {s['history_as_of'][:16]})" if s.get("history_as_of") else ""),
            s["failure_predictor"],
            s["duration_predictor"],
            s.get("job_failure_predictor") or "–",
            s.get("job_duration_predictor") or "–",
            f"{_fmt(f1.get('model'))} / {_fmt(f1.get('previous'))}",
        )
    output_console().print(table)


# Live accuracy's sections: the figures of each, and their column headings.
LIVE_SECTIONS = (
    ("failure", "failure of runs", ("precision", "recall", "f1")),
    ("duration", "duration of successful runs", ("within_20", "coverage_80", "mdape")),
    ("job_failure", "failure of jobs", ("precision", "recall", "f1")),
    ("job_duration", "duration of successful jobs", ("within_20", "coverage_80", "mdape")),
)
LIVE_HEADINGS = {
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "within_20": "within ±20%",
    "coverage_80": "80% coverage",
    "mdape": "MdAPE",
}


@app.command("accuracy")
def accuracy_command(
    ctx: typer.Context,
    days: Annotated[
        int | None,
        typer.Option(
            min=1, max=366, help="Days of completed runs (default: intelligence.accuracy_days)."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Live accuracy: how the stored predictions of recently completed runs fared, per predictor."""
    from dataclasses import asdict

    from controltower.intelligence.accuracy import accuracy_end, demotions, live_accuracy

    settings = configured(ctx)
    days = days or settings.intelligence.accuracy_days
    with database(settings) as engine, engine.connect() as conn:
        found = live_accuracy(conn, days, accuracy_end(conn))
        demoted = {d.figure: d.predictor for d in demotions(conn)}
    # the API's fields (``AccuracyPublic``); JSON keys are strings, versions included
    versions = {str(v): n for v, n in found.model_versions.items()}
    report = {**asdict(found), "model_versions": versions, "demoted": demoted}
    if json_output:
        print_json(report)
        return
    _print_accuracy(report, days)


def _print_accuracy(report: dict[str, Any], days: int) -> None:
    """Live accuracy as a line of counts and a table per section, predictors by figures."""
    from controltower.intelligence.selection import PREDICTOR_WORDS

    console = output_console()
    until = f"{report['until']:%Y-%m-%d %H:%M}"
    if not report["runs"]:
        console.print(f"no predicted run completed in the {days} days to {until} UTC")
        return
    counts = (
        f"{report['runs']:,} predicted runs completed in the {days} days to {until} UTC:"
        f" {report['failure_runs']:,} passed or failed, {report['duration_runs']:,} passed"
        " with a duration"
    )
    if report["left_out"]:
        counts += f"; {report['left_out']:,} predicted before any version existed left out"
    versions = ", ".join(f"version {v}: {n:,} runs" for v, n in report["model_versions"].items())
    console.print(counts + (f" (the model scored with {versions})" if versions else ""))
    for section, title, figures in LIVE_SECTIONS:
        if not report[section]:
            continue
        table = Table(title=f"{title}, live")
        table.add_column("predictor")
        for figure in figures:
            table.add_column(LIVE_HEADINGS[figure], justify="right")
        for name, values in report[section].items():
            cells = (_fmt(values.get(f)) for f in figures)
            table.add_row(PREDICTOR_WORDS.get(name, name), *cells)
        console.print(table)
    for figure, predictor in report["demoted"].items():
        console.print(f"demoted: {figure} is served by {PREDICTOR_WORDS.get(predictor, predictor)}")


def _show(summary: dict[str, Any], json_output: bool, title: str) -> None:
    if json_output:
        print_json(summary)
    else:
        _print_versions([summary], title)


@app.command("train")
def train_command(
    ctx: typer.Context,
    json_output: JsonOption = False,
    candidate: Annotated[
        bool, typer.Option("--candidate", help="Register the version without making it live.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the models.")] = 0,
) -> None:
    """Train on the stored history, evaluate, register a version and make it live."""
    from controltower.errors import OneOutcome
    from controltower.intelligence.lifecycle import retrain

    with database(configured(ctx), migrate=True) as engine:
        try:
            info = retrain(engine, promote=not candidate, seed=seed)
        except OneOutcome as exc:
            typer.secho(
                f"{exc}: nothing was registered, and the baselines serve until there are",
                err=True,
                fg="red",
            )
            raise typer.Exit(1) from exc
    _show(info.summary(), json_output, f"trained version {info.version}")


@app.command("list")
def list_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """The registered versions, newest first, with the predictor live for each figure."""
    from controltower.intelligence import registry

    with database(configured(ctx)) as engine, engine.connect() as conn:
        summaries = [v.summary() for v in registry.versions(conn)]
    if json_output:
        print_json(summaries)
    else:
        _print_versions(summaries, "model versions")


@app.command("promote")
def promote_command(
    ctx: typer.Context,
    version: Annotated[
        int,
        typer.Argument(metavar="VERSION", min=1, max=INT32_MAX, help="The version to make live."),
    ],
    json_output: JsonOption = False,
) -> None:
    """Make VERSION live; the live version until now is archived."""
    from controltower.intelligence import registry

    with database(configured(ctx), migrate=True) as engine, engine.begin() as conn:
        info = registry.promote(conn, version)
    _show(info.summary(), json_output, f"version {info.version} is live")


@app.command("rollback")
def rollback_command(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Make the version live before the current one live again; archive the current one."""
    from controltower.intelligence import registry

    with database(configured(ctx), migrate=True) as engine, engine.begin() as conn:
        info = registry.rollback(conn)
    _show(info.summary(), json_output, f"rolled back: version {info.version} is live")
