"""The HTTP entry point: webhook endpoint, JSON API, dashboard pages and health probes."""

from controltower.web.app import create_app

__all__ = ["create_app"]
