"""``controltower anomaly``: find anomalies in any series, measure the detectors, and say
which recorded anomalies are real.

``confirm``, ``dismiss`` and ``retract`` exit 1 for an unknown anomaly and 2
for a verdict that names nobody; with ``--json`` they print the anomaly.
"""

from __future__ import annotations

import getpass
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from controltower.cli.context import configured, database, output_console, print_json
from controltower.domain.limits import INT32_MAX
from controltower.domain.wording import counted
from controltower.errors import InvalidSeries, InvalidVerdict

if TYPE_CHECKING:
    from controltower.anomaly.evaluation import Evaluation
    from controltower.anomaly.scoring import Tally
    from controltower.store.anomalies import StoredAnomaly

app = typer.Typer(help="Anomalies in metric series.", no_args_is_help=True)


class Bad(StrEnum):
    """Which way a metric given to ``detect`` goes wrong."""

    up = "up"
    down = "down"
    both = "both"


class VerdictFilter(StrEnum):
    """Which anomalies ``list`` shows by their verdict."""

    confirmed = "confirmed"
    dismissed = "dismissed"
    none = "none"


JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
AnomalyId = Annotated[
    int, typer.Argument(metavar="ID", min=1, max=INT32_MAX, help="The recorded anomaly.")
]
ById = Annotated[str | None, typer.Option("--by", help="Who (default: the current user).")]
NoteOption = Annotated[str | None, typer.Option(help="Why, for the others.")]


@app.command("detect")
def detect_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="CSV with timestamp,value per row.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the anomalies as JSON.")
    ] = False,
    bad: Annotated[
        Bad,
        typer.Option(
            "--bad",
            help="Which way the metric goes wrong: up (latency, errors: falls are not told), "
            "down (requests, an up gauge: rises are not told), or both when it is not known.",
        ),
    ] = Bad.both,
    min_change: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="The least change worth telling, in the series' unit (5 for latency in ms: "
            "a spike, shift or drift of under 5 ms is not told); 0: any large enough "
            "against normal.",
        ),
    ] = 0.0,
    min_relative: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="The least lasting change worth telling, as a share of normal (0.25: a "
            "quarter up, or down to 1/1.25 of it); spikes must double or halve.",
        ),
    ] = 0.25,
) -> None:
    """Find spikes, level shifts, drifts (or, for 0/1 values, failure bursts) in FILE."""
    from dataclasses import replace

    from controltower.anomaly.csvseries import read_series
    from controltower.anomaly.detection import detect
    from controltower.anomaly.tuning import for_any_metric

    try:
        series = read_series(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        typer.secho(f"error: cannot read {file}: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc
    except InvalidSeries as exc:
        typer.secho(f"error: {file}: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc
    points, given = series.points, series.given
    # Any metric: a mostly-zero one (errors per minute) is judged for spikes against its peaks.
    tuning = replace(
        for_any_metric(), direction=bad.value, min_change=min_change, min_relative=min_relative
    )
    found = detect(points, tuning)
    # timestamps as the file gave them (the interface's promise), the start's too
    written = {p.timestamp: text for p, text in reversed(list(zip(points, given, strict=True)))}
    if json_output:
        anomalies = [
            {**a.as_dict(), "timestamp": given[a.index], "start": written[a.start]} for a in found
        ]
        print_json({"points": len(points), "missing": series.missing, "anomalies": anomalies})
        return
    table = Table("timestamp", "kind", "severity", "score", "expected", "observed")
    for a in found:
        table.add_row(
            given[a.index],
            a.kind,
            a.severity,
            f"{a.score:.1f}",
            f"{a.expected:.6g}",
            f"{a.observed:.6g}",
        )
    output_console().print(table)
    gaps = f", {counted(series.missing, 'row')} without a value left out" if series.missing else ""
    told = f"{counted(len(points), 'point')}, {counted(len(found), 'anomaly', 'anomalies')}"
    output_console(stderr=True).print(told + gaps)


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
    from controltower.bootstrap.queue import anomaly_tuning
    from controltower.store.anomalies import confirmed_anomalies
    from controltower.store.engine import reading
    from controltower.telemetry.service import rate_table

    settings = configured(ctx)
    rates = rate_table(settings.telemetry.rates)
    with database(settings) as engine, engine.connect() as conn:
        series = load_series(
            reading(conn),
            rate=rates.rate,
            wait_between_jobs_s=settings.anomaly.wait_between_jobs_minutes * 60,
        )
        known = confirmed_anomalies(reading(conn))
    tuning = anomaly_tuning(settings.anomaly)
    result = evaluate(series, seed=seed, tuning=tuning, trials_per_series=trials, known=known)
    if json_output:
        print_json(result.as_dict())
        return
    _print_evaluation(result)


@app.command("record")
def record_command(
    ctx: typer.Context,
    history: Annotated[
        bool,
        typer.Option(
            "--history", help="Also record every anomaly of the stored history that is over."
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Run the detectors over the store now and record what they find (as the worker does).

    With --history the anomalies that are over are recorded too, as resolved: after
    an import or a backfill, the charts mark them and they can be reviewed and labelled.
    """
    from controltower.bootstrap.queue import anomaly_pass

    settings = configured(ctx)
    with database(settings, migrate=True) as engine:
        report = anomaly_pass(engine, settings, history=history)
    if json_output:
        print_json(asdict(report))
        return
    typer.echo(
        f"{report.seen} anomalies going on ({report.new} new, {report.resolved} resolved)"
        + (f"; {report.past} of the past recorded" if history else "")
    )


@app.command("list")
def list_command(
    ctx: typer.Context,
    active: Annotated[
        bool, typer.Option("--active", help="Only those still going on and not dismissed.")
    ] = False,
    verdict: Annotated[
        VerdictFilter | None,
        typer.Option(help="Only those with this verdict (none: those without one)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    json_output: JsonOption = False,
) -> None:
    """Recorded anomalies, newest first, with their ids and verdicts."""
    from controltower.store.anomalies import recent_anomalies
    from controltower.store.engine import reading

    with database(configured(ctx)) as engine, engine.connect() as conn:
        found = recent_anomalies(
            reading(conn),
            active_only=active,
            verdict=None if verdict is None else verdict.value,
            limit=limit,
            offset=offset,
        )
    if json_output:
        print_json([asdict(a) for a in found])
        return
    table = Table(
        "id", "detected (UTC)", "series", "metric", "kind", "severity", "state", "verdict"
    )
    for a in found:
        table.add_row(
            str(a.id),
            a.detected_at.strftime("%Y-%m-%d %H:%M"),
            a.series,
            a.metric,
            a.kind,
            a.severity,
            "active" if a.resolved_at is None else "resolved",
            f"{a.verdict} by {a.verdict_by}" if a.verdict else "-",
        )
    output_console().print(table)


def _verdict_command(verdict: str, doc: str) -> Callable[..., None]:
    """A command that gives ``verdict`` on the anomaly it is given."""

    def command(
        ctx: typer.Context,
        anomaly_id: AnomalyId,
        by: ById = None,
        note: NoteOption = None,
        json_output: JsonOption = False,
    ) -> None:
        _verdict(ctx, anomaly_id, verdict, by, note, json_output)

    command.__doc__ = doc
    return command


app.command("confirm")(
    _verdict_command(
        "confirmed",
        "Say that a recorded anomaly is a real change (evaluations then know it is present).",
    )
)
app.command("dismiss")(
    _verdict_command(
        "dismissed",
        "Say that a recorded anomaly is not a real change: it leaves the overview and alerts.",
    )
)


@app.command("retract")
def retract_command(
    ctx: typer.Context, anomaly_id: AnomalyId, json_output: JsonOption = False
) -> None:
    """Take back the verdict given on a recorded anomaly."""
    _verdict(ctx, anomaly_id, None, None, None, json_output)


def _verdict(
    ctx: typer.Context,
    anomaly_id: int,
    verdict: str | None,
    by: str | None,
    note: str | None,
    json_output: bool,
) -> None:
    from controltower.store.anomalies import set_verdict

    who = by if by is not None or verdict is None else getpass.getuser()
    with database(configured(ctx)) as engine, engine.begin() as conn:
        try:
            stored = set_verdict(conn, anomaly_id, verdict, who, note, datetime.now(UTC))
        except InvalidVerdict as exc:
            typer.secho(f"error: {exc}", err=True, fg="red")
            raise typer.Exit(2) from exc
    if json_output:
        print_json(asdict(stored))
        return
    typer.echo(_verdict_words(stored))


def _verdict_words(a: StoredAnomaly) -> str:
    what = f"anomaly {a.id} ({a.kind.replace('_', ' ')} in {a.metric} of {a.series})"
    return f"{what} {a.verdict} by {a.verdict_by}" if a.verdict else f"{what} has no verdict"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _recall(t: Tally) -> str:
    """The recall with its 95% interval, in percent."""
    if t.recall_interval is None:
        return "-"
    low, high = t.recall_interval
    return f"{_percent(t.recall)} ({100 * low:.1f}–{100 * high:.1f})"


def _delays(tally: Tally) -> str:
    median, p90 = tally.delay_quantile(0.5), tally.delay_quantile(0.9)
    return "–" if median is None or p90 is None else f"{median:.0f} / {p90:.0f}"


def _without_injection(result: Evaluation) -> Table:
    """Per metric, the alarms of the judged series as stored and with their values shuffled
    (no change, burst or rhythm in them: every shift, drift or burst there is false)."""
    table = Table(
        "metric",
        "points",
        "stored: spikes",
        "stored: shifts, drifts, bursts",
        "shuffled: spikes",
        "shuffled: shifts, drifts, bursts",
        title="without injection: the series as stored, and shuffled",
    )
    for metric in sorted(result.series):
        stored = result.stored_kinds.get(metric, Counter())
        shuffled = result.shuffled_kinds.get(metric, Counter())
        table.add_row(
            metric,
            str(result.points[metric]),
            str(stored["spike"]),
            str(sum(stored.values()) - stored["spike"]),
            str(shuffled["spike"]),
            str(sum(shuffled.values()) - shuffled["spike"]),
        )
    return table


def _clear_of_stored(result: Evaluation) -> Table:
    """Recall of the trials with no lasting change of the stored series near them, per kind."""
    table = Table(
        "kind",
        "injected",
        "share of all",
        "recall (95% interval)",
        "found (any kind)",
        title="clear of the stored series' own changes (no stored shift, drift or burst from a "
        "window before to the end of the span alarms are counted in)",
    )
    for kind, t in [*result.clear.items(), ("overall", result.clear_overall)]:
        whole = result.overall if kind == "overall" else result.by_kind[kind]
        table.add_row(
            kind,
            str(t.injected),
            _percent(t.injected / whole.injected if whole.injected else None),
            _recall(t),
            _percent(t.found_share),
        )
    return table


def _print_evaluation(result: Evaluation) -> None:
    table = Table(
        "kind",
        "injected",
        "recalled",
        "recall (95% interval)",
        "found (any kind)",
        "true",
        "false",
        "of which on stored",
        "of those re-dated",
        "false alarm share",
        "false share beyond stored",
        "known present",
        "delay, points (median / p90)",
        title=f"seed {result.seed}",
    )
    rows = [*result.by_kind.items(), ("overall", result.overall)]
    if result.stops.injected:
        rows.append(("stop (apart from overall)", result.stops))
    if result.busy_rises.injected:
        rows.append(("busy-day rise (apart from overall)", result.busy_rises))
    for kind, t in rows:
        table.add_row(
            kind,
            str(t.injected),
            str(t.recalled),
            _recall(t),
            _percent(t.found_share),
            str(t.true_alarms),
            str(t.false_alarms),
            str(t.on_stored),
            str(t.redated),
            _percent(t.false_alarm_share),
            _percent(t.false_alarm_share_beyond_stored),
            str(t.known_present),
            _delays(t),
        )
    console = output_console()
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
    console.print(_clear_of_stored(result))
    console.print(_without_injection(result))
    console.print("series: " + ", ".join(f"{n} {m}" for m, n in sorted(result.series.items())))
    if result.skipped:
        skipped = ", ".join(f"{n} {m}" for m, n in sorted(result.skipped.items()))
        console.print(
            f"not judged (too short, constant, mostly zero or failing too often): {skipped}"
        )
    console.print(
        "alarms on the stored series: "
        + ", ".join(
            f"{result.stored_alarms[m]} in {result.points[m]} points of {m}"
            for m in sorted(result.series)
        )
    )
    known = sum(result.known.values())
    console.print(
        f"anomalies confirmed as real in the judged series: {known}"
        + (" (alarms at them count as neither true nor false)" if known else "")
    )
