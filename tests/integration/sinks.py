"""Reading tables back from the embedded systems, to compare what arrived with what left."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from sluice.connectors.base import ReadRequest
from sluice.connectors.sqlite.config import SQLiteCreds
from sluice.connectors.sqlite.source import SQLiteSource
from sluice.core.models import TableRef

# One sink of each kind, named as the tests that load into all three call them.
EVERY_SINK = ("pg", "duck", "lite")


def add_postgres_source_and_every_sink(
    sluice: Any, source: str, target: str, workdir: Path
) -> tuple[str, ...]:
    """`init`, a PostgreSQL source `src`, and destinations pg (PostgreSQL `target`), duck and
    lite (files in `workdir`); returns their names."""
    sluice("init", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': source})}'", ok=True)
    return add_every_sink(sluice, target, workdir)


def add_every_sink(sluice: Any, target: str, workdir: Path) -> tuple[str, ...]:
    """Destinations pg (PostgreSQL `target`), duck and lite (files in `workdir`)."""
    sinks = {
        "pg": ("postgres", {"url": target}),
        "duck": ("duckdb", {"path": str(workdir / "wh.duckdb")}),
        "lite": ("sqlite", {"path": str(workdir / "wh.sqlite")}),
    }
    for name, (kind, creds) in sinks.items():
        sluice(f"destination add {name} --type {kind} --creds '{json.dumps(creds)}'", ok=True)
    return EVERY_SINK


def hop_1_refusal(sluice: Any, table: str, options: str = "--primary-key id") -> str:
    """Add `table` (into destination pg) and run it: the run must fail before anything is
    published; returns its one error line."""
    sluice(f"table add {table} --source src --destination pg {options}", ok=True)
    failed = sluice(f"run {table}")
    assert failed.code == 1, failed.out
    [line] = failed.err.strip().splitlines()
    assert sluice(f"lake ls {table} --json", ok=True).json() == []
    return str(line)


def sqlite_table(path: Path, table: str) -> pa.Table:
    source = SQLiteSource(SQLiteCreds(path=str(path)))
    info = source.check(TableRef(table))
    return pa.Table.from_batches(
        list(source.read(ReadRequest(TableRef(table)))), schema=info.schema
    )


def duckdb_table(path: Path, table: str) -> pa.Table:
    with duckdb.connect(str(path), read_only=True) as connection:
        escaped = table.replace('"', '""')
        result: pa.Table = connection.sql(f'SELECT * FROM "{escaped}"').to_arrow_table()
        return result


def read_sink(kind: str, path: Path, table: str) -> pa.Table:
    return duckdb_table(path, table) if kind == "duckdb" else sqlite_table(path, table)


def same_rows(expected: pa.Table, actual: pa.Table, key: list[str]) -> bool:
    """Equal contents regardless of row order and of equivalent type spellings."""
    actual = actual.select(expected.schema.names).cast(expected.schema)
    order = [(k, "ascending") for k in key]
    return bool(expected.sort_by(order).equals(actual.sort_by(order)))
