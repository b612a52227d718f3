"""``controltower alerts``: list alerts, acknowledge them, and silence them.

Exit status: 0 done; 1 no such alert or silence, or the alert has resolved;
2 bad usage (an unusable silence or acknowledgement, a bad time or duration).
With ``--json`` one JSON document goes to standard output and nothing else.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table

from controltower.cli.context import configured, database, output_console, print_json
from controltower.domain.limits import INT32_MAX
from controltower.domain.wording import counted
from controltower.errors import InvalidAcknowledgement, InvalidSilence

if TYPE_CHECKING:
    from sqlalchemy import Connection

app = typer.Typer(help="Alerts: list, acknowledge, silence.", no_args_is_help=True)
T = TypeVar("T")
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ById = Annotated[str | None, typer.Option("--by", help="Who (default: the current user).")]


def _who(by: str | None) -> str:
    return by if by is not None else getpass.getuser()


@contextmanager
def _connection(ctx: typer.Context, *, write: bool) -> Iterator[Connection]:
    from controltower.store.engine import reading

    with database(configured(ctx)) as engine:
        if write:
            with engine.begin() as conn:
                yield conn
        else:
            with engine.connect() as conn:
                yield reading(conn)


def _refusing(action: Callable[[], T]) -> T:
    """Run ``action``; an unusable request is bad usage (exit 2), with its reason."""
    try:
        return action()
    except (InvalidSilence, InvalidAcknowledgement) as exc:
        typer.secho(f"usage error: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc


def _document(record: Any) -> dict[str, Any]:
    from controltower.telemetry import silences

    document = asdict(record)
    if isinstance(record, silences.StoredSilence):
        document["active"] = record.active(datetime.now(UTC))
    return document


@app.command("list")
def list_command(
    ctx: typer.Context,
    everything: Annotated[
        bool, typer.Option("--all", help="Resolved alerts too, not only firing ones.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
    json_output: JsonOption = False,
) -> None:
    """Firing alerts, worst first (with --all, then the resolved ones, newest first)."""
    from controltower.telemetry import alert_records

    with _connection(ctx, write=False) as conn:
        found = alert_records.list_alerts(
            conn, datetime.now(UTC), state="all" if everything else "firing", limit=limit
        )
    if json_output:
        print_json([_document(a) for a in found])
        return
    table = Table("id", "state", "severity", "repository", "title", "since", "marks")
    for a in found:
        note = f": {a.ack_note}" if a.ack_note else ""
        marks = [f"acknowledged by {a.acknowledged_by}{note}"] if a.acknowledged else []
        marks += [f"silenced by silence {a.silenced_by}"] if a.silenced else []
        where = a.repository or "(installation)"
        since = _when(a.started_at)
        table.add_row(str(a.id), a.state, a.severity, where, a.title, since, ", ".join(marks))
    output_console().print(table)
    output_console(stderr=True).print(counted(len(found), "alert"))


@app.command("ack")
def ack_command(
    ctx: typer.Context,
    alert_id: Annotated[
        int, typer.Argument(metavar="ID", min=1, max=INT32_MAX, help="The alert to acknowledge.")
    ],
    by: ById = None,
    note: Annotated[str | None, typer.Option(help="A note for the others.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Acknowledge a firing alert: it does not notify again while it grows worse."""
    from controltower.telemetry import acknowledgements

    with _connection(ctx, write=True) as conn:
        record = _refusing(
            lambda: acknowledgements.acknowledge(conn, alert_id, _who(by), note, datetime.now(UTC))
        )
    _done(record, json_output, f"alert {alert_id} acknowledged by {record.acknowledged_by}")


@app.command("unack")
def unack_command(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=INT32_MAX, help="The alert.")],
    json_output: JsonOption = False,
) -> None:
    """Take back an alert's acknowledgement."""
    from controltower.telemetry import acknowledgements

    with _connection(ctx, write=True) as conn:
        record = acknowledgements.unacknowledge(conn, alert_id, datetime.now(UTC))
    _done(record, json_output, f"alert {alert_id} is no longer acknowledged")


@app.command("silence")
def silence_command(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why the alerts are silenced.")],
    kind: Annotated[str, typer.Option(help="Glob on the alert's kind.")] = "*",
    repository: Annotated[
        str, typer.Option("--repository", "--repo", help="Glob on OWNER/NAME.")
    ] = "*",
    rule: Annotated[str | None, typer.Option(help="Only alerts of this rule.")] = None,
    key: Annotated[str | None, typer.Option(help="Only the alert with this key.")] = None,
    duration: Annotated[
        str | None, typer.Option("--for", help="How long: 30m, 2h, 1d, 1h30m.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="When it ends, ISO 8601 (UTC unless an offset is given).")
    ] = None,
    starts: Annotated[
        str | None, typer.Option("--from", help="When it starts, ISO 8601 (default: now).")
    ] = None,
    by: ById = None,
    json_output: JsonOption = False,
) -> None:
    """Silence the alerts the matchers select, for a while (--for) or until a time (--until).

    The silence starts now, or at --from; with --for it lasts that long from its start.
    """
    from controltower.telemetry import silences

    request = _refusing(
        lambda: silences.SilenceRequest(
            reason=reason,
            created_by=_who(by),
            kind=kind,
            repository=repository,
            rule=rule,
            key=key,
            starts_at=_moment(starts, "--from") if starts is not None else None,
            ends_at=_moment(until, "--until") if until is not None else None,
            duration=silences.parse_duration(duration) if duration is not None else None,
        )
    )
    with _connection(ctx, write=True) as conn:
        made = _refusing(lambda: silences.create_silence(conn, request, datetime.now(UTC)))
    _done(made, json_output, f"silence {made.id} until {_when(made.ends_at)}")


@app.command("silences")
def silences_command(
    ctx: typer.Context,
    everything: Annotated[
        bool, typer.Option("--all", help="Ended silences too (history).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Silences in force or yet to start (with --all, ended ones too), ending last first."""
    from controltower.telemetry import silences

    now = datetime.now(UTC)
    with _connection(ctx, write=False) as conn:
        found = silences.list_silences(conn, now, active_only=not everything, limit=1000)
    if json_output:
        print_json([_document(s) for s in found])
        return
    table = Table("id", "kind", "repository", "rule", "key", "from", "until", "by", "reason")
    for s in found:
        table.add_row(
            str(s.id),
            s.kind,
            s.repository,
            s.rule or "",
            s.key or "",
            _when(s.starts_at),
            _when(s.ends_at),
            s.created_by,
            s.reason,
        )
    output_console().print(table)


@app.command("unsilence")
def unsilence_command(
    ctx: typer.Context,
    silence_id: Annotated[
        int, typer.Argument(metavar="ID", min=1, max=INT32_MAX, help="The silence to end.")
    ],
    json_output: JsonOption = False,
) -> None:
    """End a silence now (it stays listed with --all)."""
    from controltower.telemetry import silences

    with _connection(ctx, write=True) as conn:
        ended = silences.expire_silence(conn, silence_id, datetime.now(UTC))
    _done(ended, json_output, f"silence {silence_id} ended at {_when(ended.ends_at)}")


def _done(record: Any, json_output: bool, words: str) -> None:
    if json_output:
        print_json(_document(record))
    else:
        typer.echo(words)


def _moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidSilence(f"{option} {text!r} is not an ISO 8601 time") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
