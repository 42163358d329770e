"""docs/connectors/postgres-types.md says what each PostgreSQL type becomes; this checks it.

A table with one column per type is replicated from real PostgreSQL into the lake and into
PostgreSQL, DuckDB and SQLite sinks through the CLI. The lake's Arrow type and each sink's
declared column type are read back and compared with the page's table, row by row: the page
cannot drift from what sluice does.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest

from tests.conftest import PROJECT, Sluice

pytestmark = pytest.mark.postgres

PAGE = PROJECT / "docs" / "connectors" / "postgres-types.md"
COLUMNS = ("lake", "PostgreSQL sink", "DuckDB sink", "SQLite sink")


def documented() -> dict[str, dict[str, str]]:
    """The page's table: PostgreSQL type -> {column: what it becomes}."""
    rows: dict[str, dict[str, str]] = {}
    lines = [line for line in PAGE.read_text().splitlines() if line.startswith("| `")]
    for line in lines:
        cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(COLUMNS, cells[1:5], strict=True))
    return rows


def test_the_type_mapping_page_is_what_sluice_does(
    sluice: Sluice, pg_database: str, pg_target: str, workdir: Path
) -> None:
    types = documented()
    assert len(types) >= 20
    names = {pg_type: f"c{i}" for i, pg_type in enumerate(types)}
    with psycopg.connect(pg_database, autocommit=True) as connection:
        connection.execute("CREATE TYPE mood AS ENUM ('sad', 'happy')")
        ddl = ", ".join(f"{names[t]} {t}" for t in types)
        connection.execute(f"CREATE TABLE kinds (id int PRIMARY KEY, {ddl})")
        connection.execute("INSERT INTO kinds (id) VALUES (1)")
    sluice("init", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': pg_database})}'", ok=True)
    sinks = {
        "PostgreSQL sink": ("postgres", {"url": pg_target}),
        "DuckDB sink": ("duckdb", {"path": str(workdir / "wh.duckdb")}),
        "SQLite sink": ("sqlite", {"path": str(workdir / "wh.sqlite")}),
    }
    for index, (kind, creds) in enumerate(sinks.values()):
        sluice(f"destination add d{index} --type {kind} --creds '{json.dumps(creds)}'", ok=True)
        with psycopg.connect(pg_database, autocommit=True) as connection:
            connection.execute(f"CREATE VIEW kinds_{index} AS SELECT * FROM kinds")
        sluice(
            f"table add kinds_{index} --source src --destination d{index} --sink-table kinds",
            ok=True,
        )
        assert sluice(f"run kinds_{index} --json").json()["status"] == "success"

    (part,) = sorted((workdir / "lake").rglob("kinds_0/**/part-*.parquet"))
    lake = pq.read_schema(part)
    with psycopg.connect(pg_target) as connection:
        pg: dict[str, str] = dict(
            connection.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'kinds'::regclass AND attnum > 0 AND NOT attisdropped"
            ).fetchall()
        )
    with duckdb.connect(str(workdir / "wh.duckdb"), read_only=True) as connection:
        duck: dict[str, str] = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'kinds'"
            ).fetchall()
        )
    with sqlite3.connect(workdir / "wh.sqlite") as connection:
        lite = {row[1]: row[2] for row in connection.execute("PRAGMA table_info(kinds)")}
    found = {
        pg_type: {
            "lake": str(lake.field(name).type),
            "PostgreSQL sink": pg[name],
            "DuckDB sink": duck[name],
            "SQLite sink": lite[name],
        }
        for pg_type, name in names.items()
    }
    wrong = {t: (types[t], found[t]) for t in types if types[t] != found[t]}
    assert wrong == {}, "docs/connectors/postgres-types.md differs: " + json.dumps(wrong, indent=1)
