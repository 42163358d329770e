"""docs/connectors/mysql.md says what each MySQL type becomes; this checks it.

A MariaDB table with one column per documented type (and a value in each, from the exact-read
test's table) is replicated through the CLI into the lake, a PostgreSQL sink and a DuckDB sink.
The lake's Arrow type and each sink's declared column type are read back and compared with the
page's table, row by row: the page cannot drift from what sluice does. Each value is compared
too: it arrives exactly in both sinks.
"""

from __future__ import annotations

import json
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from tests.conftest import PROJECT, Sluice
from tests.iceberg import sluice_types
from tests.integration.test_mysql_source import TYPES, database_of, run

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

PAGE = PROJECT / "docs" / "connectors" / "mysql.md"
HEADER = "| MySQL type | lake | PostgreSQL sink | DuckDB sink |"


def documented() -> list[tuple[str, str, str, str]]:
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADER) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append((cells[0], cells[1], cells[2], cells[3]))
    return rows


def test_the_type_page_matches_what_sluice_does(
    sluice: Sluice, workdir: Path, mysql_database: str, pg_target: str
) -> None:
    rows = documented()
    assert len(rows) >= 30
    values = {declared: literals[0] for declared, literals, _, _ in TYPES}
    expected = {declared: read[0] for declared, _, read, _ in TYPES}
    assert not [declared for declared, *_ in rows if declared not in values]
    db = database_of(mysql_database)
    columns = ", ".join(f"c{i} {declared}" for i, (declared, *_) in enumerate(rows))
    literals = ", ".join(values[declared] for declared, *_ in rows)
    run(db, f"CREATE TABLE every_type (id int PRIMARY KEY, {columns})",
        f"INSERT INTO every_type VALUES (1, {literals}), (2, {', '.join(['NULL'] * len(rows))})",
        "CREATE VIEW every_type_duck AS SELECT * FROM every_type")  # fmt: skip

    sluice("init", ok=True)
    sluice(f"source add my --type mysql --creds '{json.dumps({'url': mysql_database})}'", ok=True)
    duck = workdir / "wh.duckdb"
    for name, kind, creds in (
        ("pg", "postgres", {"url": pg_target}),
        ("duck", "duckdb", {"path": str(duck)}),
    ):
        sluice(f"destination add {name} --type {kind} --creds '{json.dumps(creds)}'", ok=True)
    for table, sink in (("every_type", "pg"), ("every_type_duck", "duck")):
        sluice(
            f"table add {table} --source my --destination {sink} --sink-table every_type "
            "--primary-key id",
            ok=True,
        )
        ran = sluice(f"run {table} --json")
        assert ran.json()["status"] == "success", ran.json()["error_message"]

    part = next((workdir / "lake").rglob("every_type/**/*.parquet"))
    lake = sluice_types(part)
    with psycopg.connect(pg_target) as connection:
        pg: dict[str, str] = dict(
            connection.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'every_type'::regclass AND attnum > 0 AND NOT attisdropped"
            ).fetchall()
        )
        assert connection.execute("SELECT count(*) FROM every_type").fetchone() == (2,)
        pg_row = connection.execute("SELECT * FROM every_type WHERE id = 1").fetchone()
    with duckdb.connect(str(duck), read_only=True) as connection:
        described = connection.sql("DESCRIBE every_type").fetchall()
        duck_types = {str(row[0]): str(row[1]) for row in described}
        duck_row = connection.execute("SELECT * FROM every_type WHERE id = 1").fetchone()
    found = [
        (declared, lake[f"c{i}"], pg[f"c{i}"], duck_types[f"c{i}"])
        for i, (declared, *_) in enumerate(rows)
    ]
    assert [row for row, want in zip(found, rows, strict=True) if row != want] == []

    # The values arrive exactly in both sinks too.
    assert pg_row is not None and duck_row is not None
    for i, (declared, *_) in enumerate(rows):
        want = expected[declared]
        assert same_value(pg_row[i + 1], want, pg[f"c{i}"]), (declared, "postgres", pg_row[i + 1])
        assert same_value(duck_row[i + 1], want, ""), (declared, "duckdb", duck_row[i + 1])


def same_value(found: Any, want: Any, sink_type: str) -> bool:
    """Equal, where a sink's client spells the same value another way."""
    if isinstance(found, Decimal) and isinstance(want, str | int):
        return bool(found == Decimal(want))  # numeric(65,30), numeric(20,0) for bigint unsigned
    if sink_type == "real":  # psycopg reads a real as its shortest decimal text
        return bool(struct.pack("f", found) == struct.pack("f", want))
    if isinstance(found, memoryview):
        return bool(bytes(found) == want)
    return bool(found == want)
