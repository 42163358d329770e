"""The REST API (FastAPI): `create_app(services)`, served by `sluice serve`."""

from sluice.api.app import create_app

__all__ = ["create_app"]
