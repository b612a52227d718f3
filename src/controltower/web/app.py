"""``create_app``: the FastAPI application for one container.

The lifespan starts the delivery journal and, in the embedded default, the
background worker in the same process (passed in as ``background`` by the
command that serves, since ``web`` does not import ``worker``); it stops both on shutdown, after the
server has stopped taking requests, so every acknowledged delivery is
committed before the process exits.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.exceptions import HTTPException

import controltower
from controltower.bootstrap import Container
from controltower.errors import ConfigurationError, ControlTowerError
from controltower.telemetry.prometheus import StoreCollector
from controltower.web import health, pages, webhooks
from controltower.web.api import alerts as alerts_api
from controltower.web.api import anomalies as anomalies_api
from controltower.web.api import capabilities as capabilities_api
from controltower.web.api import deliveries as deliveries_api
from controltower.web.api import github as github_api
from controltower.web.api import models as models_api
from controltower.web.api import notifications as notifications_api
from controltower.web.api import predictions as predictions_api
from controltower.web.api import runs as runs_api
from controltower.web.api import telemetry as telemetry_api
from controltower.web.errors import error_name, status_for
from controltower.web.pages.errorpage import error_page, invalid_fields, wants_page
from controltower.web.timing import ServerTiming


class Background(Protocol):
    """Work that runs beside the server for its lifetime (the embedded worker)."""

    def start(self) -> None:
        """Start; called once the journal is running."""

    def stop(self) -> None:
        """Stop; called after the server stopped taking requests."""


def create_app(
    container: Container, *, background: Background | None = None, allow_unsigned: bool = False
) -> webhooks.WebhookIngress:
    """Build the application; nothing starts until the server runs its lifespan.

    The result is the FastAPI app behind ``WebhookIngress``, which serves the
    webhook endpoint itself (``.app`` is the FastAPI application).

    Without a webhook secret the app refuses to be built unless ``allow_unsigned``
    says deliveries may be accepted unverified (local experiments only).
    """
    if container.settings.github.webhook_secret is None and not allow_unsigned:
        raise ConfigurationError(
            "no webhook secret: set CONTROLTOWER_GITHUB__WEBHOOK_SECRET "
            "(or start with --insecure-no-webhook-secret for local experiments)"
        )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything imported so far (thousands of typed models) lives as long as the
        # process; moving it out of the collector's sight keeps full collections,
        # which run every few hundred deliveries, from pausing the server for 100 ms.
        gc.collect()
        gc.freeze()
        container.journal.start()
        if background is not None:
            background.start()
        pages.warm(container)
        try:
            yield
        finally:
            container.journal.stop()
            if background is not None:
                background.stop()

    # FastAPIOffline: /docs serves Swagger UI from the package, not a CDN (no ReDoc: its page
    # still fetches a logo from one)
    app = FastAPIOffline(
        redoc_url=None,
        title="controltower",
        version=controltower.__version__,
        summary="CI/CD telemetry, prediction and guarded autonomy for GitHub Actions.",
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.readiness = health.ReadinessCache()
    app.include_router(webhooks.router)
    app.include_router(runs_api.router)
    app.include_router(telemetry_api.router)
    app.include_router(github_api.router)
    app.include_router(deliveries_api.router)
    app.include_router(predictions_api.router)
    app.include_router(models_api.router)
    app.include_router(anomalies_api.router)
    app.include_router(notifications_api.router)  # before /api/v1/alerts/{alert_id}
    app.include_router(alerts_api.router)
    app.include_router(capabilities_api.router)
    app.include_router(health.router)
    app.include_router(pages.router)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(container.engine))
    app.mount("/metrics", make_asgi_app(registry))
    app.add_middleware(ServerTiming)

    @app.exception_handler(ControlTowerError)
    async def refused(request: Request, exc: ControlTowerError) -> Response:
        if wants_page(request):
            return error_page(request, status_for(exc), str(exc))
        return JSONResponse(
            {"error": type(exc).__name__, "detail": str(exc)}, status_code=status_for(exc)
        )

    # A browser gets errors of dashboard pages as a page; programs get JSON of one shape,
    # {"error": what kind, "detail": ...}, whoever refused (FastAPI's "detail" kept as it is).
    @app.exception_handler(HTTPException)
    async def not_served(request: Request, exc: HTTPException) -> Response:
        if wants_page(request):
            return error_page(request, exc.status_code, str(exc.detail))
        body = {"error": error_name(exc.status_code), "detail": exc.detail}
        return JSONResponse(body, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if wants_page(request):
            return error_page(request, 422, invalid_fields(exc.errors()))
        body = {"error": "ValidationError", "detail": jsonable_encoder(exc.errors())}
        return JSONResponse(body, 422)

    return webhooks.WebhookIngress(app, container)
