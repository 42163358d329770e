"""A real dataset through every source that has a dump of it, end to end through the CLI into
each kind of sink: all 11 Chinook tables must arrive identical, every row and every value,
compared with what the source database itself holds (read with its own driver, never through
the code under test).

One line per source with a Chinook dump below; its harness (systems.py) loads the dump with
`load_chinook()`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.conftest import configure, make_system
from tests.conformance.systems import System
from tests.conftest import Sluice

pytestmark = pytest.mark.slow

SOURCES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", marks=pytest.mark.postgres, id="postgres"),
    pytest.param("mysql", marks=pytest.mark.mysql, id="mysql"),
]
SINKS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", marks=pytest.mark.postgres, id="postgres"),
    pytest.param("snowflake", id="snowflake"),  # fakesnow's server (tests/snowflake_fake.py)
    pytest.param("bigquery", id="bigquery"),  # bqemulator (tests/bigquery_emulator.py)
]


@pytest.fixture(params=SOURCES)
def source(request: pytest.FixtureRequest, workdir: Path) -> System:
    system = make_system(str(request.param), request, workdir)
    system.load_chinook()
    return system


@pytest.fixture(params=SINKS)
def sink(request: pytest.FixtureRequest, workdir: Path) -> System:
    return make_system(str(request.param), request, workdir, role="sink")


def _order(system: System, key: list[str]) -> str:
    return ", ".join(system.q(column) for column in key)


def _exactly(rows: list[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    """Each value as its repr: Python's == holds 1, 1.0, True and Decimal("1.00") equal, which
    would hide a column that arrived as another type or another decimal scale."""
    return [tuple(repr(value) for value in row) for row in rows]


def test_every_chinook_table_arrives_identical(
    sluice: Sluice, source: System, sink: System
) -> None:
    keys = source.primary_keys()
    assert len(keys) == 11, sorted(keys)
    configure(sluice, source, sink)
    for table, key in keys.items():
        options = ["--source", "src", "--destination", "dst", "--primary-key", ",".join(key)]
        sluice("table add", table, *options, ok=True)
        sluice("run", table, ok=True)
    for table, key in keys.items():
        expected = source.rows_as_sunk(table, _order(source, key))
        assert expected, table
        got = sink.rows(table, _order(sink, key))
        assert _exactly(got) == _exactly(expected), f"{table} in {sink.type_name}"


@pytest.mark.parametrize("kind", SOURCES)
def test_discover_finds_every_chinook_table_and_key(
    sluice: Sluice, request: pytest.FixtureRequest, workdir: Path, kind: str
) -> None:
    source = make_system(kind, request, workdir)
    source.load_chinook()
    sluice("init", ok=True)
    sluice(f"source add src --type {kind} --creds", json.dumps(source.creds()), ok=True)
    found = sluice("discover src --json", ok=True).json()
    keys = {entry["table"].split(".")[-1]: entry["primary_key"] for entry in found}
    assert keys == source.primary_keys()
