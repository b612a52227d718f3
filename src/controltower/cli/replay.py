"""``controltower replay``: send stored webhook payloads to a running endpoint, signed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from controltower.cli.context import print_json


def replay_command(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder of <event>/<name>.json payloads.", exists=True, file_okay=False
        ),
    ],
    url: Annotated[
        str, typer.Option(help="Webhook endpoint, e.g. http://127.0.0.1:8000/webhooks/github")
    ],
    secret: Annotated[
        str,
        typer.Option(
            help="The webhook secret to sign with.", envvar="CONTROLTOWER_GITHUB__WEBHOOK_SECRET"
        ),
    ],
    form: Annotated[
        bool, typer.Option("--form", help="Send form-encoded (payload=) bodies.")
    ] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=256)] = 8,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Sign and send every payload under DIRECTORY; the event is the name of its folder."""
    from controltower.ingest.replay import collect, replay

    payloads = collect(directory)
    if not payloads:
        typer.secho(f"no *.json files under {directory}", err=True, fg="red")
        raise typer.Exit(2)
    report = asyncio.run(replay(payloads, url, secret, form=form, concurrency=concurrency))
    summary = {
        "files": len(payloads),
        "sent": report.sent,
        "accepted": report.accepted,
        "statuses": {str(code): n for code, n in sorted(report.statuses.items())},
        "failures": report.failures,
    }
    if json_output:
        print_json(summary)
    else:
        for failure in report.failures:
            typer.secho(f"refused {failure['file']}: {failure['error']}", err=True, fg="red")
        typer.echo(f"{report.accepted}/{len(payloads)} deliveries accepted", err=True)
    if report.accepted != len(payloads):
        raise typer.Exit(1)
