"""Service fixtures for the integration tests (defined in tests/services.py)."""

from tests.services import pg_database, pg_target

__all__ = ["pg_database", "pg_target"]
