"""The same analytic queries give the same answers on the source and on every sink.

Chinook (its PostgreSQL script) is replicated PostgreSQL -> lake -> PostgreSQL, DuckDB and
SQLite through the real CLI; then real reporting queries (sales by genre, country and artist,
revenue by country and year) run on the source and on each sink. Queries over types a sink
has (integers, text; exact decimals and timestamps in PostgreSQL and DuckDB) must return the
same rows, value for value: SQLite has no exact decimal, so revenue is compared only where the
sink keeps `numeric(10,2)` as a decimal. (Functions whose result type differs by engine, such
as avg over a decimal, are left out: they compare the engines, not the data.)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from tests.conftest import SHARED, Sluice
from tests.integration.sinks import add_postgres_source_and_every_sink

pytestmark = pytest.mark.postgres

CHINOOK_PG = SHARED / "datasets" / "chinook" / "Chinook_PostgreSql.sql"
TABLES = {
    "artist": "artist_id",
    "album": "album_id",
    "genre": "genre_id",
    "track": "track_id",
    "customer": "customer_id",
    "invoice": "invoice_id",
    "invoice_line": "invoice_line_id",
}
# Over integers and text: every sink has them.
EVERYWHERE = {
    "lines per genre": """
        SELECT g.name, count(*) AS lines, sum(il.quantity) AS units
        FROM invoice_line il JOIN track t ON t.track_id = il.track_id
        JOIN genre g ON g.genre_id = t.genre_id
        GROUP BY g.name ORDER BY lines DESC, g.name""",
    "invoices per country": """
        SELECT c.country, count(DISTINCT i.invoice_id) AS invoices, sum(il.quantity) AS units
        FROM invoice i JOIN customer c ON c.customer_id = i.customer_id
        JOIN invoice_line il ON il.invoice_id = i.invoice_id
        GROUP BY c.country ORDER BY c.country""",
    "top artists": """
        SELECT ar.name, count(*) AS sold
        FROM invoice_line il JOIN track t ON t.track_id = il.track_id
        JOIN album al ON al.album_id = t.album_id JOIN artist ar ON ar.artist_id = al.artist_id
        GROUP BY ar.name ORDER BY sold DESC, ar.name LIMIT 10""",
    "customers without a company": """
        SELECT count(*) FROM customer WHERE company IS NULL""",
}
# Over exact decimals and timestamps: PostgreSQL and DuckDB have both.
EXACT = {
    "revenue per country": """
        SELECT c.country, sum(i.total) AS revenue, max(i.total), count(*)
        FROM invoice i JOIN customer c ON c.customer_id = i.customer_id
        GROUP BY c.country ORDER BY c.country""",
    "revenue per year": """
        SELECT CAST(extract(year FROM invoice_date) AS integer) AS y, sum(total), count(*),
               min(invoice_date), max(invoice_date)
        FROM invoice GROUP BY y ORDER BY y""",
    "line revenue": """
        SELECT sum(unit_price * quantity), max(unit_price), min(unit_price) FROM invoice_line""",
}


def answers_pg(url: str, queries: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as connection:
        return {name: connection.execute(sql).fetchall() for name, sql in queries.items()}


def answers_duckdb(path: Path, queries: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {name: connection.execute(sql).fetchall() for name, sql in queries.items()}


def answers_sqlite(path: Path, queries: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as connection:
        return {name: connection.execute(sql).fetchall() for name, sql in queries.items()}


def test_analytic_queries_answer_alike_on_the_source_and_every_sink(
    sluice: Sluice, pg_database: str, pg_target: str, workdir: Path
) -> None:
    with psycopg.connect(pg_database, autocommit=True) as connection:
        connection.execute(CHINOOK_PG.read_text().split("\\c chinook;", 1)[1])
    sinks = add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir)
    for sink in sinks:
        for table, key in TABLES.items():
            # One configured table per sink: each reads the source into its own lake folder.
            configured = f"{table}_{sink}"
            with psycopg.connect(pg_database, autocommit=True) as connection:
                connection.execute(f"CREATE VIEW {configured} AS SELECT * FROM {table}")
            sluice(
                f"table add {configured} --source src --destination {sink} --sink-table {table} "
                f"--primary-key {key}",
                ok=True,
            )
            assert sluice(f"run {configured} --json").json()["status"] == "success", configured

    expected = answers_pg(pg_database, {**EVERYWHERE, **EXACT})
    assert expected["lines per genre"][0][0] == "Rock"  # the data is really there
    assert answers_pg(pg_target, {**EVERYWHERE, **EXACT}) == expected
    assert answers_duckdb(workdir / "wh.duckdb", {**EVERYWHERE, **EXACT}) == expected
    everywhere = {name: expected[name] for name in EVERYWHERE}
    assert answers_sqlite(workdir / "wh.sqlite", EVERYWHERE) == everywhere
