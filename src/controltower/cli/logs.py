"""Structured logs to standard error (standard output is kept for ``--json`` documents)."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import structlog


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written (callers may swap it, as test runners
    and embedding programs do, and close the one they swapped in)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


STDERR = _CurrentStderr()


def configure(level: str = "info", fmt: str = "console") -> None:
    """Route structlog and the standard library's logging to stderr at ``level``."""
    import structlog

    numeric = getattr(logging, level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=STDERR),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(stream=STDERR, level=max(numeric, logging.WARNING), force=True)
    logging.getLogger("huey").setLevel(max(numeric, logging.WARNING))
