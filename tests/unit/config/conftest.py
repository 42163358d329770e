"""The config tests run against PostgreSQL too, through the same fixture."""

from tests.services import pg_database

__all__ = ["pg_database"]
