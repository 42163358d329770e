"""Scalar PostgreSQL types whose meaning a naive read changes. `oid` is unsigned 32-bit (read
as signed, 4000000000 became -294967296) and `money` is a type of its own (it arrived in a
PostgreSQL sink as numeric): both must arrive with the same declared type and the same text
in PostgreSQL, and in DuckDB as PostgreSQL's own cast of the value to the type DuckDB has
(oid as BIGINT; money as its numeric text, as every unconstrained numeric arrives there, since
money's scale follows the server's lc_monetary). 'infinity' and '-infinity' dates and
timestamps (the lake overflowed them) arrive as infinities in PostgreSQL and DuckDB and as
the words in SQLite.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import Sluice
from tests.integration.sinks import add_postgres_source_and_every_sink, hop_1_refusal
from tests.integration.test_postgres_pipeline import column_types, execute, rows_text

pytestmark = pytest.mark.postgres

TABLE = """
CREATE TABLE scalars (id int PRIMARY KEY, o oid, m money);
INSERT INTO scalars VALUES
  (1, 4000000000, '12.34'), (2, 0, '-0.01'), (3, 4294967295, '-92233720368547758.08'),
  (4, 2147483648, '92233720368547758.07'), (5, NULL, NULL);
"""


def test_oid_and_money_keep_type_and_value(
    sluice: Sluice, workdir: Path, pg_database: str, pg_target: str
) -> None:
    execute(pg_database, "SET lc_monetary = 'C';" + TABLE)
    sluice("init", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': pg_database})}'", ok=True)
    sluice(
        f"destination add pg --type postgres --creds '{json.dumps({'url': pg_target})}'", ok=True
    )
    warehouse = workdir / "wh.duckdb"
    sluice(
        f"destination add wh --type duckdb --creds '{json.dumps({'path': str(warehouse)})}'",
        ok=True,
    )
    sluice("table add scalars --source src --destination pg --primary-key id", ok=True)
    sluice("run scalars", ok=True)

    assert column_types(pg_target, "scalars") == {"id": "integer", "o": "oid", "m": "money"}
    assert rows_text(pg_target, "scalars", "id") == rows_text(pg_database, "scalars", "id")

    sluice("table edit scalars --destination wh", ok=True)
    sluice("run scalars --hop dl_to_sink", ok=True)
    with psycopg.connect(pg_database) as connection:
        expected = connection.execute(
            "SELECT id, o::bigint, m::numeric::text FROM scalars ORDER BY id"
        ).fetchall()
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        got = connection.execute("SELECT id, o, m FROM scalars ORDER BY id").fetchall()
    assert got == expected


INFINITE = """
CREATE TABLE times (id int PRIMARY KEY, ts timestamp, tz timestamptz, d date);
INSERT INTO times VALUES
  (1, 'infinity', '-infinity', 'infinity'), (2, '-infinity', 'infinity', '-infinity'),
  (3, '2024-05-01 12:00:00.123456', '2024-05-01 12:00:00.5+02', '2024-05-01'),
  (4, '4714-11-24 00:00:00 BC', '4714-11-24 00:00:00+00 BC', '4714-11-24 BC'),
  (5, '0001-12-31 23:59:59.999999 BC', '10000-01-01 00:00:00+00', '5874897-12-31'),
  (6, NULL, NULL, NULL);
"""


def test_infinities_arrive_as_infinities_in_postgresql_and_duckdb(
    sluice: Sluice, workdir: Path, pg_database: str, pg_target: str
) -> None:
    """Beside years before 1 and after 9999 (each spelled its own way in PostgreSQL's text)."""
    execute(pg_database, INFINITE)
    add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir)
    sluice("table add times --source src --destination pg --primary-key id", ok=True)
    sluice("run times", ok=True)
    [batch] = sluice("lake ls times --json", ok=True).json()
    manifest = json.loads(next((workdir / "lake").rglob("_manifest.json")).read_text())
    assert manifest["column_infinities"] == {"ts": 2, "tz": 2, "d": 2}, batch

    assert column_types(pg_target, "times") == {
        "id": "integer",
        "ts": "timestamp without time zone",
        "tz": "timestamp with time zone",
        "d": "date",
    }
    assert rows_text(pg_target, "times", "id") == rows_text(pg_database, "times", "id")

    sluice("table edit times --destination duck", ok=True)
    sluice("run times --hop dl_to_sink", ok=True)
    with psycopg.connect(pg_database) as connection:
        connection.execute("SET TIME ZONE 'UTC'")
        expected = connection.execute(
            "SELECT id, ts::text, tz::text, d::text FROM times WHERE id <= 3 ORDER BY id"
        ).fetchall()
    with duckdb.connect(str(workdir / "wh.duckdb"), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        got = connection.execute(
            "SELECT id, ts::varchar, strftime(tz, '%Y-%m-%d %H:%M:%S.%f+00'), d::varchar "
            "FROM times WHERE id <= 3 ORDER BY id"
        ).fetchall()
        infinite = connection.execute(
            "SELECT count(*) FROM times WHERE NOT isfinite(ts) AND NOT isfinite(tz) "
            "AND NOT isfinite(d)"
        ).fetchone()
    assert infinite == (2,)
    assert got[:2] == [
        (1, "infinity", "-infinity", "infinity"),
        (2, "-infinity", "infinity", "-infinity"),
    ]
    assert got[2][0] == expected[2][0] and got[2][3] == expected[2][3]
    assert got[2][1] == "2024-05-01 12:00:00.123456" and expected[2][1] == got[2][1]
    assert got[2][2] == "2024-05-01 10:00:00.500000+00"


def test_infinities_arrive_in_sqlite_as_the_words(
    sluice: Sluice, workdir: Path, pg_database: str, pg_target: str
) -> None:
    """SQLite has no infinity: the words; other values as the ISO text SQLite's functions
    read, years before 1 astronomically (4714 BC is -4713)."""
    execute(pg_database, INFINITE)
    add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir)
    sluice("table add times --source src --destination lite --primary-key id", ok=True)
    sluice("run times", ok=True)
    with sqlite3.connect(workdir / "wh.sqlite") as connection:
        rows = connection.execute("SELECT id, ts, tz, d FROM times ORDER BY id").fetchall()
    assert rows == [
        (1, "infinity", "-infinity", "infinity"),
        (2, "-infinity", "infinity", "-infinity"),
        (3, "2024-05-01T12:00:00.123456", "2024-05-01T10:00:00.500000", "2024-05-01"),
        (4, "-4713-11-24T00:00:00.000000", "-4713-11-24T00:00:00.000000", "-4713-11-24"),
        (5, "0000-12-31T23:59:59.999999", "10000-01-01T00:00:00.000000", "5874897-12-31"),
        (6, None, None, None),
    ]


def test_a_timestamp_after_294247_ad_fails_hop_1_naming_the_column(
    sluice: Sluice, workdir: Path, pg_database: str, pg_target: str
) -> None:
    execute(
        pg_database,
        "CREATE TABLE late (id int PRIMARY KEY, at timestamp);"
        "INSERT INTO late VALUES (1, '2024-05-01'), (2, '294276-12-31 23:59:59')",
    )
    add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir)
    line = hop_1_refusal(sluice, "late")
    assert "column 'at' (timestamp without time zone) holds a timestamp after 294247" in line
    assert "nothing was published" in line and "at::text AS at" in line


def test_an_infinite_incremental_key_fails_naming_the_column(
    sluice: Sluice, workdir: Path, pg_database: str, pg_target: str
) -> None:
    execute(pg_database, INFINITE + "DELETE FROM times WHERE ts IS NULL;")
    add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir)
    line = hop_1_refusal(sluice, "times", "--primary-key id --key ts")
    assert "incremental key 'ts' holds 'infinity' or '-infinity'" in line
    assert "WHERE isfinite(ts)" in line


def test_an_infinity_inside_an_array_fails_hop_1_naming_the_column(
    sluice: Sluice, workdir: Path, pg_database: str, pg_target: str
) -> None:
    execute(
        pg_database,
        "CREATE TABLE spans (id int PRIMARY KEY, days date[]);"
        "INSERT INTO spans VALUES (1, '{2024-05-01,NULL}'), (2, '{2024-05-01,infinity}')",
    )
    add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir)
    line = hop_1_refusal(sluice, "spans")
    assert "column 'days' (date[]) holds 'infinity' or '-infinity' inside an array" in line
