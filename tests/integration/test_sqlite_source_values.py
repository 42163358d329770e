"""The SQLite source keeps every value exactly, or fails naming the column: edge values of
each declared type SQLite has, replicated SQLite -> lake -> PostgreSQL, DuckDB and SQLite
through the CLI, compared value by value as each sink prints them.

SQLite stores NUMERIC/DECIMAL as REAL or INTEGER (the exact digits were never stored), so they
arrive as double precision; dates and timestamps are SQLite text, parsed; the words
'infinity' and '-infinity' (as sluice's SQLite sink writes them) arrive as infinities.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from tests.conftest import Sluice
from tests.integration.sinks import add_every_sink

pytestmark = pytest.mark.postgres

COLUMNS = "i INTEGER, r REAL, t TEXT, b BLOB, flag BOOLEAN, d DATE, ts TIMESTAMP, n NUMERIC"
ROWS = [
    (1, -9223372036854775808, 1.7976931348623157e308, "", b"", 0, "2024-02-29",
     "2024-02-29 23:59:59.999999", 12.34),
    (2, 9223372036854775807, -0.0, "naïve 日本 🎉 'q' \"d\" \\ \n", b"\x00\xff", 1,
     "infinity", "infinity", 0),
    (3, 0, 5e-324, "x", b"\x01", None, "-infinity", "-infinity", -1e-30),
    (4, None, float("inf"), None, None, 1, "0001-01-01", "2024-02-29T00:00:00Z", None),
    (5, 1, float("-inf"), "y", b"y", 0, "9999-12-31", "0001-01-01 00:00:00", 1),
    (6, None, None, None, None, None, None, None, None),
]  # fmt: skip
# What each sink prints, per row: i, r, t, b (hex), flag, d, ts, n. (SQLite itself stores
# -0.0 in a REAL column as 0.0: the source holds 0.)
EXPECTED = [
    ("-9223372036854775808", "1.7976931348623157e+308", "", "", "false", "2024-02-29",
     "2024-02-29 23:59:59.999999", "12.34"),
    ("9223372036854775807", "0", "naïve 日本 🎉 'q' \"d\" \\ \n", "00ff", "true",
     "infinity", "infinity", "0"),
    ("0", "5e-324", "x", "01", None, "-infinity", "-infinity", "-1e-30"),
    (None, "Infinity", None, None, "true", "0001-01-01", "2024-02-29 00:00:00", None),
    ("1", "-Infinity", "y", "79", "false", "9999-12-31", "0001-01-01 00:00:00", "1"),
    (None, None, None, None, None, None, None, None),
]  # fmt: skip


def _source(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(f"CREATE TABLE edge (id INTEGER PRIMARY KEY, {COLUMNS})")
        connection.executemany("INSERT INTO edge VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ROWS)


def _postgres_rows(url: str) -> list[tuple[str | None, ...]]:
    with psycopg.connect(url) as connection:
        connection.execute("SET extra_float_digits = 1")  # shortest exact text, as DuckDB
        return [
            tuple(row)
            for row in connection.execute(
                "SELECT i::text, r::text, t, encode(b, 'hex'), flag::text, d::text, ts::text, "
                "n::text FROM edge ORDER BY id"
            )
        ]


def _duckdb_rows(path: Path) -> list[tuple[Any, ...]]:
    """Python values, dates and timestamps as DuckDB's text (Python has no infinity)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(
            "SELECT i, r, t, b, flag, d::varchar, ts::varchar, n FROM edge ORDER BY id"
        ).fetchall()


def test_every_sqlite_value_arrives_exactly_in_every_sink(
    sluice: Sluice, workdir: Path, pg_target: str
) -> None:
    source = workdir / "source.sqlite"
    _source(source)
    sluice("init", ok=True)
    sluice(f"source add src --type sqlite --creds '{json.dumps({'path': str(source)})}'", ok=True)
    add_every_sink(sluice, pg_target, workdir)
    sluice("table add edge --source src --destination pg --primary-key id", ok=True)
    sluice("run edge", ok=True)
    pg_rows = _postgres_rows(pg_target)
    # PostgreSQL prints -0 as "-0", infinities as "Infinity"; the timestamp as its own text.
    assert pg_rows == EXPECTED

    sluice("table edit edge --destination duck", ok=True)
    sluice("run edge --hop dl_to_sink", ok=True)
    duck = _duckdb_rows(workdir / "wh.duckdb")
    assert [row[:5] + row[7:] for row in duck] == [
        (*row[1:4], row[4], None if row[5] is None else bool(row[5]), row[8]) for row in ROWS
    ]
    assert [row[5:7] for row in duck] == [row[5:7] for row in EXPECTED]

    sluice("table edit edge --destination lite", ok=True)
    sluice("run edge --hop dl_to_sink", ok=True)
    with sqlite3.connect(workdir / "wh.sqlite") as connection:
        lite = connection.execute(
            "SELECT i, r, t, b, flag, d, ts, n FROM edge ORDER BY id"
        ).fetchall()
    assert [row[0] for row in lite] == [row[1] for row in ROWS]
    assert [row[1] for row in lite] == [row[2] for row in ROWS]
    assert [row[2:4] for row in lite] == [row[3:5] for row in ROWS]
    assert [row[5] for row in lite] == [row[6] for row in ROWS]
    assert [row[6] for row in lite][1:3] == ["infinity", "-infinity"]


@pytest.mark.parametrize(
    ("declared", "value", "found"),
    [
        ("INTEGER", "'abc'", "str"),
        ("INTEGER", "1.5", "float"),  # pyarrow alone would make it 1
        ("BOOLEAN", "2", "int"),
        ("DATE", "'yesterday'", "str"),
        ("TIMESTAMP", "'-4713-11-24T00:00:00'", "str"),
    ],
)
def test_a_value_that_does_not_fit_its_declared_type_fails_hop_1_naming_the_column(
    sluice: Sluice, workdir: Path, declared: str, value: str, found: str
) -> None:
    source = workdir / "source.sqlite"
    with sqlite3.connect(source) as connection:
        connection.execute(f"CREATE TABLE odd (id INTEGER PRIMARY KEY, v {declared})")
        connection.execute(f"INSERT INTO odd VALUES (1, NULL), (2, {value})")
    sluice("init", ok=True)
    sluice(f"source add src --type sqlite --creds '{json.dumps({'path': str(source)})}'", ok=True)
    wh = json.dumps({"path": str(workdir / "wh.duckdb")})
    sluice(f"destination add wh --type duckdb --creds '{wh}'", ok=True)
    sluice("table add odd --source src --destination wh --primary-key id", ok=True)
    failed = sluice("run odd")
    assert failed.code == 1
    [line] = failed.err.strip().splitlines()
    assert "column 'v' holds a value that does not fit its declared type" in line
    assert f"{found} value found" in line and "fix the data or declare" in line
    assert sluice("lake ls odd --json", ok=True).json() == []
