"""Scalar PostgreSQL types whose meaning a naive read changes: `oid` is unsigned 32-bit (read
as signed, 4000000000 became -294967296) and `money` is a type of its own (it arrived in a
PostgreSQL sink as numeric). Both must arrive with the same declared type and the same text
in PostgreSQL, and in DuckDB as PostgreSQL's own cast of the value to the type DuckDB has
(oid as BIGINT; money as its numeric text, as every unconstrained numeric arrives there, since
money's scale follows the server's lc_monetary).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import Sluice
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


@pytest.mark.parametrize(
    ("declared", "value"),
    [
        ("timestamp", "infinity"),
        ("timestamp", "-infinity"),
        ("timestamptz", "infinity"),
        ("date", "-infinity"),
        ("date", "infinity"),
    ],
)
def test_an_infinity_fails_hop_1_naming_the_column_before_anything_is_published(
    sluice: Sluice, pg_database: str, pg_target: str, declared: str, value: str
) -> None:
    execute(
        pg_database,
        f"CREATE TABLE times (id int PRIMARY KEY, at {declared});"
        f"INSERT INTO times VALUES (1, '2024-05-01'), (2, NULL), (3, '{value}')",
    )
    sluice("init", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': pg_database})}'", ok=True)
    sluice(
        f"destination add pg --type postgres --creds '{json.dumps({'url': pg_target})}'", ok=True
    )
    sluice("table add times --source src --destination pg --primary-key id", ok=True)
    failed = sluice("run times")
    assert failed.code == 1
    [line] = failed.err.strip().splitlines()
    assert f"column 'at' ({declared.replace('timestamptz', 'timestamp with time zone')}" in line
    assert "holds 'infinity' or '-infinity'" in line and "nothing was published" in line
    assert "CASE WHEN isfinite(at) THEN at END AS at" in line
    assert sluice("lake ls times --json", ok=True).json() == []
