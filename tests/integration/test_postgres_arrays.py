"""PostgreSQL arrays Arrow cannot hold exactly fail hop 1; the fix the message names works.

A multi-dimensional array (`{{1,2},{3,4}}`) or one with a lower bound other than 1
(`[0:2]={7,8,9}`) used to arrive flattened or renumbered. Now the read stops at the first such
value (PostgreSQL itself raises, through a guard in the read's WHERE clause), nothing is
published, and the error names the table, column, declared type and the view that keeps the
value exactly as text. Real PostgreSQL source, DuckDB and PostgreSQL sinks.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import psycopg

from tests.conftest import Sluice


def setup(sluice: Sluice, source: str, sink: str, workdir: Path) -> None:
    sluice("init", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': source})}'", ok=True)
    sluice(f"destination add pg --type postgres --creds '{json.dumps({'url': sink})}'", ok=True)
    wh = json.dumps({"path": str(workdir / "wh.duckdb")})
    sluice(f"destination add wh --type duckdb --creds '{wh}'", ok=True)


def test_arrays_arrow_cannot_hold_fail_naming_the_column_and_the_view_that_keeps_them(
    sluice: Sluice, pg_database: str, pg_target: str, workdir: Path
) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE grid (id int PRIMARY KEY, cells int[], tags text[])")
        conn.execute(
            "INSERT INTO grid VALUES (1, '{1,2}', '{a}'), (2, NULL, '{}'), "
            "(3, '{{1,2},{3,4}}', '{{x,y},{z,w}}')"
        )
        conn.execute("CREATE TABLE shifted (id int PRIMARY KEY, v int[])")
        conn.execute("INSERT INTO shifted VALUES (1, '{5}'), (2, '[0:2]={7,8,9}')")
        conn.execute("CREATE TABLE plain (id int PRIMARY KEY, v int[], t text[])")
        conn.execute("INSERT INTO plain VALUES (1, '{1,NULL,3}', '{\"\",b}'), (2, '{}', NULL)")
    setup(sluice, pg_database, pg_target, workdir)

    sluice("table add grid --source src --destination wh --primary-key id", ok=True)
    failed = sluice("run grid")
    assert failed.code == 1
    assert "column 'cells' (integer[]) of grid holds a 2-dimensional array" in failed.err
    assert "nothing was published" in failed.err
    assert "SELECT ..., cells::text AS cells ..." in failed.err
    assert sluice("lake ls grid --json", ok=True).json() == []

    sluice("table add shifted --source src --destination wh --primary-key id", ok=True)
    shifted = sluice("run shifted")
    assert shifted.code == 1
    assert "column 'v' (integer[]) of shifted holds an array whose first index is 0" in (
        shifted.err
    )

    # Incremental reads carry the guard too.
    sluice("table edit shifted --load incremental --key id --sink-load incremental", ok=True)
    assert "first index is 0" in sluice("run shifted").err

    # Ordinary arrays load as before, into both sinks.
    sluice("table add plain --source src --destination pg --primary-key id", ok=True)
    sluice("run plain", ok=True)
    with psycopg.connect(pg_target) as conn:
        rows = conn.execute("SELECT id, v, t FROM plain ORDER BY id").fetchall()
    assert rows == [(1, [1, None, 3], ["", "b"]), (2, [], None)]

    # The fix the message names: a view reading the column as text keeps it exactly.
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(
            "CREATE VIEW grid_text AS SELECT id, cells::text AS cells, tags::text AS tags FROM grid"
        )
    sluice("table add grid_text --source src --destination wh --primary-key id", ok=True)
    sluice("run grid_text", ok=True)
    with duckdb.connect(str(workdir / "wh.duckdb"), read_only=True) as con:
        loaded = con.execute("SELECT id, cells, tags FROM grid_text ORDER BY id").fetchall()
    assert loaded == [(1, "{1,2}", "{a}"), (2, None, "{}"), (3, "{{1,2},{3,4}}", "{{x,y},{z,w}}")]
