"""``serve``, ``worker`` and ``demo``: the long-running commands."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import sys
from datetime import UTC, datetime, timedelta
from importlib.resources import as_file, files
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import SecretStr

from controltower.cli.context import state
from controltower.cli.logs import configure
from controltower.errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from controltower.config import Settings

DEMO_SAMPLE = "demo-runs.jsonl.gz"
DEMO_DATABASE = "demo.db"  # in the data directory, apart from the installation's own
DEMO_REPLAYED = 0.1  # the sample's newest runs, predicted by a version trained before them

HostOpt = Annotated[str | None, typer.Option("--host", help="Interface to listen on.")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port to listen on.")]


def _serve(
    settings: Settings, *, worker: bool, migrate: bool, insecure: bool, banner: str | None = None
) -> None:
    import uvicorn

    from controltower.bootstrap import build
    from controltower.store import schema
    from controltower.web import create_app
    from controltower.worker import InProcessConsumer

    _check_listen(settings.server.host, settings.server.port)  # before anything starts
    if worker:
        _check_queue(settings)
    container = build(settings)
    if migrate:
        schema.upgrade(container.engine)
    else:
        schema.ensure_current(container.engine)
    background = InProcessConsumer(container) if worker else None
    app = create_app(container, background=background, allow_unsigned=insecure)
    if insecure and settings.github.webhook_secret is None:
        typer.secho(
            "WARNING: no webhook secret; deliveries are accepted WITHOUT signature checks. "
            "Local experiments only.",
            err=True,
            fg="red",
            bold=True,
        )
    # The journal's writer thread must get the GIL promptly when a commit is due;
    # the default 5 ms switch interval would add up to that to every acknowledgement.
    sys.setswitchinterval(0.0005)
    host, port = settings.server.host, settings.server.port
    if settings.server.api_token is None and not _loopback(host):
        typer.secho(
            f"WARNING: listening on {host} with no API token; anyone who reaches the port can "
            "acknowledge and silence alerts and switch capabilities. "
            "Set CONTROLTOWER_SERVER__API_TOKEN.",
            err=True,
            fg="yellow",
            bold=True,
        )
    typer.echo(banner or f"controltower listening on http://{host}:{port}/", err=True)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        container.close()


def _check_listen(host: str, port: int) -> None:
    """Refuse (exit 2) when ``host:port`` cannot be listened on, a port in use above all, before
    the worker or anything else starts; the server binds it again right after."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ConfigurationError(f"cannot listen on {host}:{port}: {reason}") from exc


def _check_queue(settings: Settings) -> None:
    """Refuse (exit 2) to start a worker whose Redis queue does not answer, in one line,
    instead of a consumer that logs a traceback a second until it does."""
    from controltower.bootstrap.health import queue_check

    check = queue_check(settings.resolved_queue_url)
    if check.status == "failing":
        raise ConfigurationError(f"{check.detail} (check CONTROLTOWER_QUEUE_URL)")


def _loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(
    ctx: typer.Context,
    host: HostOpt = None,
    port: PortOpt = None,
    worker: Annotated[
        bool,
        typer.Option("--worker/--no-worker", help="Run the background worker in this process."),
    ] = True,
    migrate: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply pending migrations at start.")
    ] = True,
    insecure_no_webhook_secret: Annotated[
        bool,
        typer.Option(
            "--insecure-no-webhook-secret", help="Accept unsigned deliveries (local only)."
        ),
    ] = False,
) -> None:
    """Web, API, webhook endpoint and (by default) the background worker, in one process."""
    settings = _with_server(state(ctx).settings(), host, port)
    configure(settings.log_level, settings.log_format)
    _serve(settings, worker=worker, migrate=migrate, insecure=insecure_no_webhook_secret)


def worker_command(
    ctx: typer.Context,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker threads.")] = 2,
) -> None:
    """The background worker alone, for scale-out (several may run on several machines)."""
    from controltower.bootstrap import build
    from controltower.store import schema
    from controltower.worker import run_worker

    settings = state(ctx).settings()
    configure(settings.log_level, settings.log_format)
    _check_queue(settings)
    container = build(settings)
    schema.ensure_current(container.engine)
    try:
        run_worker(container, workers=workers)
    finally:
        container.close()


def demo_command(ctx: typer.Context, host: HostOpt = None, port: PortOpt = None) -> None:
    """The embedded default with real sample history loaded: the quickest way to look around."""
    from controltower.bootstrap import build
    from controltower.ingest.transfer import import_files
    from controltower.store import schema

    settings = _with_server(state(ctx).settings(), host, port)
    configure(settings.log_level, settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # a database of its own: the sample never lands in an installation's history
    demo_db = (settings.data_dir / DEMO_DATABASE).resolve()
    settings = settings.model_copy(update={"database_url": f"sqlite:///{demo_db}"})
    secret_note = ""
    if settings.github.webhook_secret is None:
        secret_file = settings.data_dir / "demo-webhook-secret"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_hex(20))
        secret = secret_file.read_text().strip()
        settings = settings.model_copy(
            update={
                "github": settings.github.model_copy(update={"webhook_secret": SecretStr(secret)})
            }
        )
        secret_note = f"\n  webhook secret (demo): {secret}  (kept in {secret_file})"
    if "mode" not in settings.intelligence.model_fields_set:  # shown, unless configured
        settings = settings.model_copy(
            update={"intelligence": settings.intelligence.model_copy(update={"mode": "on"})}
        )
    container = build(settings)
    try:
        schema.upgrade(container.engine)
        with as_file(files("controltower.data") / DEMO_SAMPLE) as sample:
            report = import_files(container.engine, [sample])
        predicted = _demo_predictions(container.engine, settings)
        anomalies = _demo_anomalies(container.engine, settings)
    finally:
        container.close()
    url = f"http://{settings.server.host}:{settings.server.port}"
    banner = (
        f"controltower demo: {report.records} real GitHub Actions runs loaded "
        f"({report.stored} new); {predicted}; {anomalies}.\n"
        f"  dashboard:       {url}/\n"
        f"  API:             {url}/docs\n"
        f"  webhooks:        {url}/webhooks/github{secret_note}\n"
        f"  database:        {demo_db} (the demo's own)\n"
        "Press Ctrl+C to stop."
    )
    _serve(settings, worker=True, migrate=False, insecure=False, banner=banner)


def _demo_predictions(engine: Engine, settings: Settings) -> str:
    """Models trained on the sample unless a version is live: first on the history as it stood
    before its newest runs, which that version then predicts as they were requested (their
    pages show the prediction and how it compared, and live accuracy scores them), then on
    all of it, the version that stays live. Runs still in flight are predicted too (none of
    the sample's, taken long ago: those GitHub reported unfinished then have ended)."""
    from controltower.intelligence import registry
    from controltower.intelligence.capability import prediction_mode
    from controltower.intelligence.lifecycle import retrain
    from controltower.intelligence.serving import predict_new_runs
    from controltower.intelligence.source import unfinished_runs

    mode = prediction_mode(engine, settings).mode
    if mode == "off":
        return "predictions off"
    with engine.connect() as conn:
        live = registry.live_version(conn)
    replayed = ""
    if live is None:
        replayed = _predict_newest(engine, settings)
        live = retrain(engine)
    with engine.connect() as conn:
        in_flight = unfinished_runs(conn, datetime.now(UTC))
    predict_new_runs(engine, settings, in_flight)
    flying = f"{len(in_flight)} runs in flight" if in_flight else "no run in flight"
    return f"model version {live.version} live, predictions {mode} ({flying}){replayed}"


def _predict_newest(engine: Engine, settings: Settings, share: float = DEMO_REPLAYED) -> str:
    """Train a version on the history as it stood before the newest ``share`` of the runs were
    requested, and let it predict those, in the order they were requested, from what had
    completed by each request. Returns what was done, in words ("" if nothing was)."""
    from controltower.intelligence.lifecycle import retrain
    from controltower.intelligence.records import request_key
    from controltower.intelligence.serving import predict_new_runs
    from controltower.intelligence.source import stored_history

    history = sorted((r for r in stored_history(engine) if r.created is not None), key=request_key)
    newest = history[int(len(history) * (1 - share)) :]  # in the order they were requested
    if not newest or len(newest) == len(history):
        return ""
    before = datetime.fromtimestamp(newest[0].created or 0.0, UTC) - timedelta(microseconds=1)
    version = retrain(engine, as_of=before)
    predicted = predict_new_runs(
        engine, settings, [(r.repository, r.run_id, r.attempt) for r in newest]
    )
    return (
        f"; {predicted} of the newest runs predicted as requested by version {version.version},"
        f" trained on the runs before {before:%Y-%m-%d %H:%M} UTC"
    )


def _demo_anomalies(engine: Engine, settings: Settings) -> str:
    """The anomalies of the sample's history recorded, those that are over as resolved."""
    from sqlalchemy import func, select

    from controltower.bootstrap.queue import anomaly_pass
    from controltower.store.anomalies import anomalies_t

    if not settings.anomaly.enabled:
        return "anomaly detection off"
    report = anomaly_pass(engine, settings, history=True)
    with engine.connect() as conn:
        recorded = conn.execute(select(func.count()).select_from(anomalies_t)).scalar_one()
    return f"{report.seen} anomalies going on, {recorded} recorded in all"


def _with_server(settings: Settings, host: str | None, port: int | None) -> Settings:
    update = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if not update:
        return settings
    return settings.model_copy(update={"server": settings.server.model_copy(update=update)})
