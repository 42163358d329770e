"""Service fixtures for the integration tests (defined in tests/services.py)."""

from tests.services import pg_database

__all__ = ["pg_database"]
