"""The composition root: the one place that turns settings into engines, queues and services.

``build(settings)`` returns a ``Container``; the web app, the worker and the
CLI each build one at start-up and close it at shutdown. Background tasks are
registered here (``bootstrap.queue``) because both the web process, which
enqueues them, and the worker, which runs them, need the same definitions,
and ``web`` and ``worker`` sit side by side in the layering.
"""

from __future__ import annotations

from controltower.bootstrap.container import Container, build

__all__ = ["Container", "build"]
