"""The root command: global options, error handling and exit statuses.

Exit status: 0 success, 1 the command ran and found a problem (rejected
records, refused deliveries), 2 bad usage or configuration. Every command
module is imported at start-up (Typer needs their signatures), so each
imports the store, the models or the web stack inside the command that uses
them, and ``--help`` loads none of them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import typer

from controltower.cli import (
    alerts,
    anomaly,
    capability,
    db,
    deliveries,
    exports,
    github,
    health,
    history,
    model,
    replay,
    retention,
    serve,
)
from controltower.cli.context import state
from controltower.errors import ConfigurationError, ControlTowerError, UsageError
from controltower.threads import limit_blas_threads


def _help_types_read_plainly() -> None:
    """Help shows a parameter's type as a reader would say it.

    Typer shows the type of every option, a flag's as ``<bool>``, which reads as
    if the flag wanted ``true`` or ``false`` after it: a flag (``--json``,
    ``--help``) shows none, it takes no value. Several values of one kind show
    as that kind, repeated (``<path>...``), not as Python's ``<list[Path]>``.
    """
    from typer.core import TyperArgument, TyperOption

    for cls in (TyperOption, TyperArgument):
        typed = cls.display_type_rich

        def display_type_rich(
            param: Any, ctx: Any, typed: Callable[[Any, Any], str | None] = typed
        ) -> str | None:
            if getattr(param, "is_flag", False) and not getattr(param, "count", False):
                return None
            shown = typed(param, ctx)
            annotation = param.type_descriptor.annotation
            if shown and "list[" in shown and get_origin(annotation) is list:
                (element,) = get_args(annotation)
                word = "path" if element is Path else getattr(element, "__name__", "value")
                return f"<{word}>..."
            return shown

        cls.display_type_rich = display_type_rich  # type: ignore[method-assign,assignment]


_help_types_read_plainly()

app = typer.Typer(
    name="controltower",
    help="Safe autonomy for CI/CD pipelines: collect, show, predict and act on CI telemetry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(asked: bool) -> None:
    if asked:
        import controltower

        typer.echo(f"controltower {controltower.__version__}")
        raise typer.Exit


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="YAML settings file (or CONTROLTOWER_CONFIG).",
            envvar="CONTROLTOWER_CONFIG",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """controltower's command line."""
    state(ctx).config = config


app.add_typer(alerts.app, name="alerts")
app.add_typer(anomaly.app, name="anomaly")
app.add_typer(capability.app, name="capability")
app.add_typer(db.app, name="db")
app.add_typer(deliveries.app, name="deliveries")
app.add_typer(exports.app, name="export")
app.add_typer(retention.app, name="retention")
app.add_typer(model.app, name="model")
app.command("import")(history.import_command)
app.command("backfill")(github.backfill_command)
app.command("reconcile")(github.reconcile_command)
app.command("fetch-logs")(github.fetch_logs_command)
app.command("health")(health.health_command)
app.command("replay")(replay.replay_command)
app.command("serve")(serve.serve_command)
app.command("worker")(serve.worker_command)
app.command("demo")(serve.demo_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``controltower`` script and ``python -m controltower``."""
    limit_blas_threads()
    try:
        app(args=argv)
    except ConfigurationError as exc:
        typer.secho(f"configuration error: {exc}", err=True, fg="red")
        sys.exit(2)
    except UsageError as exc:
        typer.secho(f"usage error: {exc}", err=True, fg="red")
        sys.exit(2)
    except ControlTowerError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(1)
    except OSError as exc:  # a file named on the command line or in the settings
        where = f": {exc.filename}" if exc.filename else ""
        typer.secho(f"error: {exc.strerror or exc}{where}", err=True, fg="red")
        sys.exit(2)
    except Exception as exc:
        unreachable = _database_error(exc)
        if unreachable is None:
            raise
        typer.secho(f"database error: {unreachable}", err=True, fg="red")
        sys.exit(2)


def _database_error(exc: Exception) -> str | None:
    """The reason in one line, when ``exc`` is the database refusing or not answering."""
    from sqlalchemy.exc import InterfaceError, OperationalError  # only on this path: slow

    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    reason = str(exc.orig or exc).strip().splitlines()
    return f"{reason[0] if reason else type(exc).__name__} (check CONTROLTOWER_DATABASE_URL)"
