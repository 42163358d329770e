"""Fixtures for the integration tests; service fixtures are defined in tests/services.py."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.engine.services import Services
from tests.conftest import CHINOOK_SQLITE, Sluice
from tests.services import mysql_database, pg_database, pg_target

__all__ = ["configured", "mysql_database", "pg_database", "pg_target", "services"]


@pytest.fixture
def configured(sluice: Sluice, workdir: Path) -> Sluice:
    """An initialised config: Chinook (SQLite) as source, DuckDB as sink, table Genre."""
    sluice("init", ok=True)
    source = CHINOOK_SQLITE
    sluice(f'source add chinook --type sqlite --creds \'{{"path": "{source}"}}\'', ok=True)
    sink = workdir / "wh.duckdb"
    sluice(f'destination add wh --type duckdb --creds \'{{"path": "{sink}"}}\'', ok=True)
    sluice("table add Genre --source chinook --destination wh --primary-key GenreId", ok=True)
    return sluice


@pytest.fixture
def services(configured: Sluice) -> Iterator[Services]:
    """The configured config database's services, opened in this process."""
    opened = Services.open(None)
    yield opened
    opened.close()
