"""``controltower capability``: each capability's mode now, and switching it live.

A switch is stored with who made it, when and why, and the running server
and workers follow it within a second or two, without a restart; switching
deletes nothing. ``CONTROLTOWER_ML_ENABLED=false`` wins over any switch.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from controltower.cli.context import database, output_console, print_json, state

if TYPE_CHECKING:
    from controltower.intelligence.capability import CapabilityMode

app = typer.Typer(help="Switch capabilities off, shadow, canary or on, live.", no_args_is_help=True)


def _document(current: CapabilityMode, history: list[Any]) -> dict[str, Any]:
    s = current.switch
    return {
        "name": current.name,
        "mode": current.mode,
        "source": current.source,
        "changed_at": s.changed_at.isoformat() if s else None,
        "changed_by": s.changed_by if s else None,
        "reason": s.reason if s else None,
        "history": [
            {
                "mode": h.mode,
                "changed_at": h.changed_at.isoformat(),
                "changed_by": h.changed_by,
                "reason": h.reason,
            }
            for h in history
        ],
    }


@app.command("list")
def list_command(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print the modes as JSON.")] = False,
) -> None:
    """Every capability's mode now, where it comes from, and its last switch."""
    from controltower.intelligence.capability import all_modes
    from controltower.store.capabilities import switch_history

    settings = state(ctx).settings()
    with database(settings) as engine, engine.connect() as conn:  # reads: changes no schema
        found = [(c, switch_history(conn, c.name)) for c in all_modes(conn, settings)]
    if json_output:
        print_json([_document(c, h) for c, h in found])
        return
    console = output_console()
    for current, _ in found:
        s = current.switch
        since = f", switched {s.changed_at:%Y-%m-%d %H:%M} UTC by {s.changed_by}" if s else ""
        why = f": {s.reason}" if s and s.reason else ""
        console.print(f"{current.name}: {current.mode} (from {current.source}{since}){why}")


def _capability(name: str) -> str:
    """``name`` where it is a capability; a usage error (exit 2) otherwise."""
    from controltower.intelligence.capability import CAPABILITIES

    if name not in CAPABILITIES:
        raise typer.BadParameter(f"no capability {name!r}: known are {', '.join(CAPABILITIES)}")
    return name


def _mode(mode: str) -> str:
    """``mode`` where it is one; a usage error (exit 2) otherwise."""
    from controltower.intelligence.capability import MODES

    if mode not in MODES:
        raise typer.BadParameter(f"mode {mode!r}: use one of {', '.join(MODES)}")
    return mode


@app.command("set")
def set_command(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(metavar="NAME", help="The capability: prediction.", callback=_capability),
    ],
    mode: Annotated[
        str, typer.Argument(metavar="MODE", help="off, shadow, canary or on.", callback=_mode)
    ],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, kept with the switch.")
    ] = None,
) -> None:
    """Switch a capability to a mode; running processes follow within a second or two."""
    from controltower.intelligence.capability import all_modes, switch_mode

    settings = state(ctx).settings()
    with database(settings, migrate=True) as engine:
        with engine.begin() as conn:
            switch_mode(conn, name, mode, changed_by=f"cli:{getpass.getuser()}", reason=reason)
        with engine.connect() as conn:
            current = next(c for c in all_modes(conn, settings) if c.name == name)
    wins = {"ml_enabled": "CONTROLTOWER_ML_ENABLED", "enabled": "CONTROLTOWER_ENABLED"}
    note = f" ({wins[current.source]}=false wins: off)" if current.source in wins else ""
    output_console(stderr=True).print(f"{name}: {mode}{note}")
