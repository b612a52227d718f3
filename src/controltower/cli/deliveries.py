"""``controltower deliveries``: the stored webhook deliveries, and failed ones processed again.

A delivery whose payload could not be normalized is kept, marked ``failed``
with the reason (the ``ingest-failed`` problem counts them). Once the code
that failed on it is mended, ``retry`` sets it pending again, and the
worker's next sweep (within a minute) or ``--now`` normalizes it anew.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from controltower.cli.context import configured, database, output_console, print_json
from controltower.domain.status import DeliveryState

app = typer.Typer(
    help="Stored webhook deliveries: list them, process failed ones again.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@app.command("list")
def list_command(
    ctx: typer.Context,
    state: Annotated[
        DeliveryState | None, typer.Option(help="Only deliveries in this state.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first.")] = 50,
    json_output: JsonOption = False,
) -> None:
    """The newest stored deliveries, with how processing them ended (and why, if it failed)."""
    from dataclasses import asdict

    from controltower.ingest.processing import stored_deliveries
    from controltower.store.engine import reading

    with database(configured(ctx)) as engine, engine.connect() as conn:
        found = stored_deliveries(reading(conn), state=state, limit=limit)
    if json_output:
        print_json([asdict(d) for d in found])
        return
    table = Table(title="deliveries, newest first")
    for column in ("received (UTC)", "event", "delivery", "state", "attempts", "note"):
        table.add_column(column)
    for d in found:
        event = f"{d.event}.{d.action}" if d.action else d.event
        received = d.received_at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(received, event, d.guid, d.state, str(d.attempts), d.note or "")
    output_console().print(table)


@app.command("retry")
def retry_command(
    ctx: typer.Context,
    guids: Annotated[
        list[str] | None,
        typer.Argument(metavar="[DELIVERY]...", help="Only these (X-GitHub-Delivery GUIDs)."),
    ] = None,
    event: Annotated[str | None, typer.Option(help="Only deliveries of this event.")] = None,
    now: Annotated[
        bool, typer.Option("--now", help="Process them in this process, not at the next sweep.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Failed deliveries pending again, to be normalized anew by the code running now."""
    from controltower.ingest.processing import process_all_pending, retry_failed

    with database(configured(ctx)) as engine:
        with engine.begin() as conn:
            again = retry_failed(conn, guids or (), event)
        report = process_all_pending(engine) if now and again else None
    result: dict[str, object] = {"pending_again": again}
    if report is not None:
        result |= {"processed": report.processed, "ignored": report.ignored}
        result |= {"failed": report.failed, "retry": report.retry}
    if json_output:
        print_json(result)
    elif report is None:
        later = " (the worker processes them at its next sweep)" if again else ""
        output_console(stderr=True).print(f"{again} failed deliveries pending again{later}")
    else:
        output_console(stderr=True).print(
            f"{again} failed deliveries processed again: {report.processed} processed,"
            f" {report.ignored} ignored, {report.failed} failed again"
        )
    if report is not None and report.failed:
        raise typer.Exit(1)
