"""The composition root: the one place that turns settings into engines, queues and services.

``build(settings)`` returns a ``Container``; the web app, the worker and the
CLI each build one at start-up and close it at shutdown. Background tasks are
registered here (``bootstrap.queue``) because both the web process, which
enqueues them, and the worker, which runs them, need the same definitions,
and ``web`` and ``worker`` sit side by side in the layering.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from controltower.bootstrap.container import Container, build

__all__ = ["Container", "build"]


def __getattr__(name: str) -> Any:
    """``Container`` and ``build``, imported on first use: ``bootstrap.health`` needs neither."""
    if name in __all__:
        from controltower.bootstrap import container  # noqa: PLC0415

        return getattr(container, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
