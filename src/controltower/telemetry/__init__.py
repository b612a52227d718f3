"""Telemetry: what CI did, summarized — metrics, cost and (later) DORA and exports."""
