"""The background worker: huey's consumer, in-process with ``serve`` or alone with ``worker``."""

from controltower.worker.consumer import InProcessConsumer, run_worker

__all__ = ["InProcessConsumer", "run_worker"]
