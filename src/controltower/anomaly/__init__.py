"""Anomaly detection: robust baselines, spikes, lasting shifts, drifts and failure bursts."""
