"""Ingest: webhook verification and journal, normalization, history import and export."""
