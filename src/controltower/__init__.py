"""controltower: safe autonomy for CI/CD pipelines.

The package is organised by stage (``ingest`` today; ``telemetry``,
``intelligence``, ``autonomy``, ``optimization`` and ``alerts`` later) over a
shared ``store`` and a pure ``domain``. ``bootstrap`` wires settings to
engines, queues and services; ``web``, ``worker`` and ``cli`` are thin entry
points. Nothing is built at import time.
"""

__version__ = "0.1.0"
