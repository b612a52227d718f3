"""``controltower anomaly``: find anomalies in any series, and measure the detectors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from controltower.cli.context import configured, database, print_json
from controltower.errors import InvalidSeries

if TYPE_CHECKING:
    from controltower.anomaly.evaluation import Evaluation

app = typer.Typer(help="Anomalies in metric series.", no_args_is_help=True)


@app.command("detect")
def detect_command(
    file: Annotated[Path, typer.Argument(help="CSV with timestamp,value per row.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the anomalies as JSON.")
    ] = False,
) -> None:
    """Find spikes, level shifts, drifts (or, for 0/1 values, failure bursts) in FILE."""
    from controltower.anomaly.csvseries import parse_series
    from controltower.anomaly.detection import detect

    try:
        points = parse_series(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        typer.secho(f"error: cannot read {file}: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc
    except InvalidSeries as exc:
        typer.secho(f"error: {file}: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc
    found = detect(points)
    if json_output:
        print_json({"points": len(points), "anomalies": [a.as_dict() for a in found]})
        return
    table = Table("timestamp", "kind", "severity", "score", "expected", "observed")
    for a in found:
        table.add_row(
            a.timestamp.isoformat(),
            a.kind,
            a.severity,
            f"{a.score:.1f}",
            f"{a.expected:.6g}",
            f"{a.observed:.6g}",
        )
    Console().print(table)
    Console(stderr=True).print(f"{len(points)} points, {len(found)} anomalies")


@app.command("evaluate")
def evaluate_command(
    ctx: typer.Context,
    seed: Annotated[int, typer.Option(help="Seed of the injections.")] = 0,
    trials: Annotated[int, typer.Option(min=1, help="Injections of each kind per series.")] = 1,
    json_output: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Inject known anomalies into the database's series; report recall and false alarms."""
    from controltower.anomaly.evaluation import evaluate
    from controltower.anomaly.sources import load_series
    from controltower.store.engine import reading
    from controltower.telemetry.service import rate_table

    settings = configured(ctx)
    rates = rate_table(settings.telemetry.rates)
    with database(settings) as engine, engine.connect() as conn:
        series = load_series(reading(conn), rate=rates.rate)
    result = evaluate(series, seed=seed, trials_per_series=trials)
    if json_output:
        print_json(result.as_dict())
        return
    _print_evaluation(result)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _print_evaluation(result: Evaluation) -> None:
    table = Table(
        "kind",
        "injected",
        "recalled",
        "recall",
        "found (any kind)",
        "true",
        "false",
        "of which on stored",
        "false alarm share",
        "false share beyond stored",
        title=f"seed {result.seed}",
    )
    rows = [*result.by_kind.items(), ("overall", result.overall)]
    for kind, t in rows:
        table.add_row(
            kind,
            str(t.injected),
            str(t.recalled),
            _percent(t.recall),
            _percent(t.found_share),
            str(t.true_alarms),
            str(t.false_alarms),
            str(t.on_stored),
            _percent(t.false_alarm_share),
            _percent(t.false_alarm_share_beyond_stored),
        )
    console = Console()
    console.print(table)
    per_metric = Table(
        "metric", "injected", "recall", "found (any kind)", "false alarm share", title="per metric"
    )
    for metric, t in sorted(result.by_metric.items()):
        per_metric.add_row(
            metric,
            str(t.injected),
            _percent(t.recall),
            _percent(t.found_share),
            _percent(t.false_alarm_share),
        )
    console.print(per_metric)
    console.print("series: " + ", ".join(f"{n} {m}" for m, n in sorted(result.series.items())))
    if result.skipped:
        skipped = ", ".join(f"{n} {m}" for m, n in sorted(result.skipped.items()))
        console.print(f"not judged (too short, constant or mostly zero): {skipped}")
    console.print(
        "alarms on the stored series: "
        + ", ".join(
            f"{result.stored_alarms[m]} in {result.points[m]} points of {m}"
            for m in sorted(result.series)
        )
    )
