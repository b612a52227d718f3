"""The metric series of the configured database, as ``anomaly evaluate`` reads them.

Shared by the benchmarks that study the detectors on a database
(``CONTROLTOWER_DATABASE_URL``): the configured runner rates price the cost series.
"""

from __future__ import annotations

from collections.abc import Iterable

from controltower.anomaly.model import Metric, Series
from controltower.anomaly.sources import METRICS, load_series
from controltower.config import Settings
from controltower.store.engine import make_engine, reading
from controltower.telemetry.service import rate_table


def stored_series(metrics: Iterable[Metric] = METRICS) -> list[Series]:
    """Every series of ``metrics`` in the configured database."""
    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            rate = rate_table(settings.telemetry.rates).rate
            return load_series(reading(conn), metrics, rate=rate)
    finally:
        engine.dispose()
