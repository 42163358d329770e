"""Fixtures of the conformance suite: a harness for the system under test, by name."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import pytest

from tests import bigquery_emulator, snowflake_fake
from tests.conformance.systems import (
    BigQuerySystem,
    DuckDBSystem,
    MySQLSystem,
    PostgresSystem,
    SnowflakeSystem,
    SQLiteSystem,
    System,
)
from tests.conftest import Sluice
from tests.services import mysql_database, pg_database, pg_target

__all__ = ["mysql_database", "pg_database", "pg_target"]

Role = Literal["source", "sink"]


def make_system(
    kind: str, request: pytest.FixtureRequest, folder: Path, role: Role = "source"
) -> System:
    """A harness for `kind` in a fresh database; a source and a sink on the same server
    (by `role`) get a database each."""
    if kind == "sqlite":
        return SQLiteSystem(folder / f"{kind}.sqlite")
    if kind == "duckdb":
        return DuckDBSystem(folder / f"{kind}.duckdb")
    if kind == "postgres":
        fixture = "pg_target" if role == "sink" else "pg_database"
        return PostgresSystem(str(request.getfixturevalue(fixture)))
    if kind == "mysql":
        return MySQLSystem(str(request.getfixturevalue("mysql_database")))
    if kind == "snowflake":
        return SnowflakeSystem(snowflake_fake.fresh_database())
    if kind == "bigquery":
        return BigQuerySystem(bigquery_emulator.fresh_dataset())
    raise ValueError(f"no harness for {kind!r}: add one in tests/conformance/systems.py")


def configure(sluice: Sluice, source: System, sink: System) -> None:
    """A config with source `src` and destination `dst`."""
    sluice("init", ok=True)
    sluice(f"source add src --type {source.type_name} --creds", json.dumps(source.creds()), ok=True)
    creds = json.dumps(sink.creds())
    sluice(f"destination add dst --type {sink.type_name} --creds", creds, ok=True)


def assert_bad_creds_fail_fast(sluice: Sluice, role: str, system: System) -> None:
    """Each of the system's bad creds fails `ROLE add` within 15 s, in one line on stderr,
    never showing the secret."""
    sluice("init", ok=True)
    for what, creds, secret in system.bad_creds():
        started = time.monotonic()
        failed = sluice(f"{role} add bad --type {system.type_name} --creds", json.dumps(creds))
        took = time.monotonic() - started
        assert failed.code != 0, what
        assert took < 15, (what, took)
        assert len(failed.err.strip().splitlines()) == 1, (what, failed.err)
        assert not secret or secret not in failed.err + failed.out, what
