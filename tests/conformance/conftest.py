"""Fixtures of the conformance suite: a harness for the system under test, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.systems import (
    DuckDBSystem,
    MySQLSystem,
    PostgresSystem,
    SQLiteSystem,
    System,
)
from tests.services import mysql_database, pg_database, pg_target

__all__ = ["mysql_database", "pg_database", "pg_target"]


def make_system(kind: str, request: pytest.FixtureRequest, folder: Path) -> System:
    if kind == "sqlite":
        return SQLiteSystem(folder / f"{kind}.sqlite")
    if kind == "duckdb":
        return DuckDBSystem(folder / f"{kind}.duckdb")
    if kind == "postgres":
        return PostgresSystem(str(request.getfixturevalue("pg_database")))
    if kind == "mysql":
        return MySQLSystem(str(request.getfixturevalue("mysql_database")))
    raise ValueError(f"no harness for {kind!r}: add one in tests/conformance/systems.py")
