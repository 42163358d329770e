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
import pytest

from tests.conftest import PROJECT, Sluice
from tests.iceberg import sluice_types
from tests.integration.sinks import add_postgres_source_and_every_sink

pytestmark = pytest.mark.postgres

PAGE = PROJECT / "docs" / "connectors" / "postgres-types.md"
COLUMNS = ("lake", "PostgreSQL sink", "DuckDB sink", "SQLite sink")
# A value per documented type (edge-ish where the type has edges): it must come back in a
# PostgreSQL sink as the same text.
VALUES = {
    "smallint": "'-32768'",
    "integer": "2147483647",
    "bigint": "'-9223372036854775808'",
    "numeric(12,2)": "'-0.01'",
    "numeric": "1e-40",
    "numeric(60,20)": "12345678901234567890123456789012345678.12345678901234567890",
    "real": "'-0'",
    "double precision": "'-Infinity'",  # NaN: refused by SQLite (see its page)
    "text": "'ünï\tcode'",
    "character varying(20)": "'x '",
    "character(5)": "'ab'",
    "boolean": "false",
    "date": "'0044-03-15 BC'",
    "time without time zone": "'24:00:00'",
    "timestamp without time zone": "'1999-12-31 23:59:59.999999'",
    "timestamp with time zone": "'2000-02-29 23:59:59.999999-08'",
    "interval": "'-1 year -2 days +03:04:05.678'",
    "uuid": "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
    "json": '\'{"b": 1,  "a": [1, 2]}\'',
    "jsonb": '\'{"b": 1, "a": null}\'',
    "bytea": "'\\x00ff'",
    "oid": "4294967295",
    "money": "'-12.34'",
    "integer[]": "'{1,NULL,-3}'",
    "text[]": '\'{"",NULL,"a,b"}\'',
    "mood": "'happy'",
    "point": "'(1.5,-2)'",
    "line": "'{1,2,3}'",
    "lseg": "'[(0,0),(1,1)]'",
    "box": "'(1,1),(0,0)'",
    "path": "'[(0,0),(1,1),(2,0)]'",
    "polygon": "'((0,0),(1,1),(1,0))'",
    "circle": "'<(0,0),1.5>'",
    "inet": "'192.168.0.1/24'",
    "cidr": "'10.0.0.0/8'",
    "macaddr": "'08:00:2b:01:02:03'",
    "macaddr8": "'08:00:2b:01:02:03:04:05'",
    "bit(3)": "B'101'",
    "bit varying": "B'1101'",
    "tsvector": "'a fat cat'",
    "tsquery": "'fat & !cat'",
    "xml": "'<a>1</a>'",
    "pg_lsn": "'16/B374D848'",
    "int4range": "'[1,5)'",
    "int8range": "'(,0]'",
    "numrange": "'(1.5,2.5]'",
    "tstzrange": "'[2020-01-01,infinity)'",
    "daterange": "'empty'",
    "int4multirange": "'{[1,3),[5,7)}'",
    "time with time zone": "'12:00:00+02'",
    "name": "'abc'",
    '"char"': "'x'",
    "point[]": "'{\"(1,2)\",NULL}'",
    "int4range[]": "'{\"[1,2)\",empty}'",
    "oid[]": "'{1,4000000000}'",
    "jsonpath": "'$.a[*] ? (@ > 1)'",
    "aclitem": "'postgres=arwdDxt/postgres'",
    "regproc": "'now'",
    "regclass": "'pg_class'",
}


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
        connection.execute("INSERT INTO kinds (id) VALUES (1)")  # every column NULL
        filled = ", ".join(names[t] for t in types)
        literals = ", ".join(f"{VALUES[t]}::{t}" for t in types)
        connection.execute(f"INSERT INTO kinds (id, {filled}) VALUES (2, {literals})")
    for sink in add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir):
        with psycopg.connect(pg_database, autocommit=True) as connection:
            connection.execute(f"CREATE VIEW kinds_{sink} AS SELECT * FROM kinds")
        sluice(
            f"table add kinds_{sink} --source src --destination {sink} --sink-table kinds",
            ok=True,
        )
        ran = sluice(f"run kinds_{sink} --json")
        assert ran.json()["status"] == "success", ran.json()["error_message"]

    (part,) = sorted((workdir / "lake").rglob("kinds_pg/**/part-*.parquet"))
    lake = sluice_types(part)
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
            "lake": lake[name],
            "PostgreSQL sink": pg[name],
            "DuckDB sink": duck[name],
            "SQLite sink": lite[name],
        }
        for pg_type, name in names.items()
    }
    wrong = {t: (types[t], found[t]) for t in types if types[t] != found[t]}
    assert wrong == {}, "docs/connectors/postgres-types.md differs: " + json.dumps(wrong, indent=1)

    # Into PostgreSQL each value comes back as the same text, NULLs as NULL.
    text = ", ".join(f"{names[t]}::text" for t in types)
    query = f"SELECT id, {text} FROM kinds ORDER BY id"
    with psycopg.connect(pg_database) as source, psycopg.connect(pg_target) as target:
        source.execute("SET TIME ZONE 'UTC'")
        target.execute("SET TIME ZONE 'UTC'")
        expected = source.execute(query).fetchall()
        loaded = target.execute(query).fetchall()
    changed = {
        t: (expected[1][i + 1], loaded[1][i + 1])
        for i, t in enumerate(types)
        if expected[1][i + 1] != loaded[1][i + 1]
    }
    assert changed == {}
    assert loaded[0] == expected[0] == (1, *([None] * len(types)))
