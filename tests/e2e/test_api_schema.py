"""The API against its own OpenAPI schema (schemathesis): every operation, with parameters and
bodies drawn from what the schema allows and beyond it, is answered below 500.

The store holds a small history with a trained live version and its predictions, so that
the operations that read runs, models and predictions reach their queries.
"""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from controltower.bootstrap import build
from controltower.config import Settings
from controltower.intelligence import registry
from controltower.intelligence.features import featurize
from controltower.intelligence.records import request_order
from controltower.intelligence.serving import live_models, predict_row, record_prediction
from controltower.intelligence.source import run_pk_of
from controltower.store import schema as store_schema
from controltower.web import create_app
from controltower.web.webhooks import WebhookIngress
from tests.conftest import SECRET
from tests.support.predictions import small_history, store, trained_version


def _app(folder: Path) -> WebhookIngress:
    """The application on a SQLite store with history, a live version and predictions."""
    container = build(
        Settings(data_dir=folder, queue_url="memory://", github={"webhook_secret": SECRET})
    )
    atexit.register(container.close)
    store_schema.upgrade(container.engine)
    runs = request_order(small_history())
    store(container.engine, runs)
    trained, report = trained_version()
    with container.engine.begin() as conn:
        registry.promote(conn, registry.register(conn, trained, report).version)
        rows = featurize(runs)
        for i in range(len(runs) - 20, len(runs)):
            pk = run_pk_of(conn, runs[i].repository, runs[i].run_id, runs[i].attempt)
            assert pk is not None
            made = predict_row(live_models(conn), rows[i : i + 1])
            record_prediction(conn, pk, made, mode="on", shown=True)
    return create_app(container)


# Built when the module is collected: the schema's operations become the test's cases then.
_FOLDER = tempfile.TemporaryDirectory(prefix="controltower-api-schema-")
schema = schemathesis.openapi.from_asgi("/openapi.json", _app(Path(_FOLDER.name)))


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_below_500(case: schemathesis.Case[Any]) -> None:
    """Drawn path, query and body values (ids past any column, dates near year 1 or 9999,
    strings of any kind): refused with a 4xx where they are wrong, never a server error.
    Deliveries are left to the webhook's own tests: they must be signed."""
    if case.path.startswith("/webhooks/"):
        return
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
