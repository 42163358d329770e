"""Every built-in type the server itself lists, not a hand-picked list, loads without a guess.

The base, range and multirange types of pg_catalog that a table column may have (asked of
the server; pseudo-types and internal ones no column can hold are left out by PostgreSQL's own
CREATE TABLE) go into one table, replicated into PostgreSQL, DuckDB and SQLite sinks. Every
run must succeed, and in the PostgreSQL sink every column must keep its declared type, except
the server-local types sluice carries as their exact text (listed below, and on
docs/connectors/postgres-types.md). The row here holds NULLs: a value of each type cannot be
made from the catalog alone, so values are checked per type by test_type_mapping_doc.py.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.lake.manifest import Manifest
from sluice.lake.physical import to_logical
from tests.conftest import Sluice
from tests.integration.sinks import add_postgres_source_and_every_sink

pytestmark = pytest.mark.postgres

CATALOG_SQL = """
SELECT format_type(t.oid, NULL) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'pg_catalog' AND t.typtype IN ('b', 'r', 'm') AND t.typisdefined
  AND t.typcategory NOT IN ('P', 'X') AND t.typname NOT LIKE '\\_%' AND t.typarray <> 0
ORDER BY 1
"""
# Identifiers of one server (transaction ids, tuple ids, catalog oids by name, snapshots,
# cursor names, access lists): carried as their exact text, declared text in the sink.
AS_TEXT = {
    "aclitem", "cid", "gtsvector", "pg_snapshot", "refcursor", "tid", "txid_snapshot", "xid",
    "xid8", "oidvector", "regclass", "regcollation", "regconfig", "regdictionary",
    "regnamespace", "regoper", "regoperator", "regproc", "regprocedure", "regrole", "regtype",
}  # fmt: skip
# format_type(oid, NULL) without a length, and the column's declared type with its default.
SAME = {"bit": "bit(1)", "character": "character(1)"}


def _usable_types(connection: psycopg.Connection[Any], columns: str) -> list[str]:
    """The catalog's types that PostgreSQL's own CREATE TABLE takes as `columns` (a template
    with {kind})."""
    usable = []
    for kind in [str(row[0]) for row in connection.execute(CATALOG_SQL)]:
        try:
            connection.execute(f"CREATE TEMP TABLE probe ({columns.format(kind=kind)})")
            connection.execute("DROP TABLE probe")
            usable.append(kind)
        except psycopg.Error:
            continue
    return usable


def test_every_catalog_type_loads_and_keeps_its_declared_type(
    sluice: Sluice, pg_database: str, pg_target: str, workdir: Path
) -> None:
    with psycopg.connect(pg_database, autocommit=True) as connection:
        usable = _usable_types(connection, "c {kind}")
        assert len(usable) >= 70, usable  # the server's own list, not a short one
        names = {kind: f"k{i}" for i, kind in enumerate(usable)}
        ddl = ", ".join(f"{names[k]} {k}" for k in usable)
        connection.execute(f"CREATE TABLE every_type (id int PRIMARY KEY, {ddl})")
        connection.execute("INSERT INTO every_type (id) VALUES (1)")
    for sink in add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir):
        with psycopg.connect(pg_database, autocommit=True) as connection:
            connection.execute(f"CREATE VIEW every_type_{sink} AS SELECT * FROM every_type")
        sluice(
            f"table add every_type_{sink} --source src --destination {sink} "
            "--sink-table every_type --primary-key id",
            ok=True,
        )
        ran = sluice(f"run every_type_{sink} --json")
        assert ran.json()["status"] == "success", (sink, ran.json()["error_message"])

    with psycopg.connect(pg_target) as connection:
        declared: dict[str, str] = dict(
            connection.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'every_type'::regclass AND attnum > 0 AND NOT attisdropped"
            ).fetchall()
        )
    expected = {kind: "text" if kind in AS_TEXT else SAME.get(kind, kind) for kind in usable}
    found = {kind: declared[names[kind]] for kind in usable}
    assert {k: v for k, v in found.items() if v != expected[k]} == {}


# Literals tried on every catalog type: each type keeps those its own input function accepts
# (asked of the server), so every type gets its edge values without a hand-made list per type.
CANDIDATES = [
    "0", "1", "-1", "-0", "", " ", "a", "ü 日本 🎉 'q' \"d\" \\", "infinity", "-infinity",
    "NaN", "1e-40", "-1e-40", "1.5", "32767", "-32768", "2147483647", "-2147483648",
    "4294967295", "9223372036854775807", "-9223372036854775808",
    "99999999999999999999.99999999999999999999", "2024-02-29", "0044-03-15 BC",
    "4714-11-24 BC", "5874897-12-31", "294276-12-31 23:59:59.999999",
    "2024-02-29 23:59:59.999999+14", "24:00:00", "23:59:60", "00:00:00-15:59",
    "true", "false", "null", "{}", "[]", '{"a": [1, 2.50, null], "": "ü"}', "(1,2)",
    "((0,0),(1,1))", "<(0,0),1>", "{1,2,3}", "[1,2)", "empty", "(,)", "{[1,2), [5,7]}",
    "192.168.0.1/24", "::1", "08:00:2b:01:02:03", "08:00:2b:01:02:03:04:05",
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "1 year 2 mons -3 days 04:05:06.789",
    "-178000000 years", "0/16B3748", "'a' & 'b'", "a:1 b:2", "$.a[*] ? (@ > 1)",
    "<a>ü</a>", "\\x00ff", "101", "10:20:", "(0,1)", "1,2,3",
]  # fmt: skip
# The largest value each variable-length type gets, within the 16 MB the issue names.
LARGE = 15 * 1024 * 1024
LARGE_VALUES = {
    "text": f"repeat('ü', {LARGE // 2})",
    "bytea": f"decode(repeat('ab', {LARGE}), 'hex')",
    "jsonb": f"('[\"' || repeat('x', {LARGE}) || '\"]')::jsonb",
    "character varying": f"repeat('x', {LARGE})",
}
# (table, type) -> why, of the columns whose values hop 1 refuses naming the column: the only
# other outcome allowed besides arriving exactly. (A composite is carried as its text, so
# every_composite keeps these values; arrays of dates and timestamps hold 'infinity'.)
_LATE = "holds a timestamp after 294247-01-10 AD"
_INFINITE = "holds 'infinity' or '-infinity' inside an array"
REFUSED = {
    ("every_value", "timestamp without time zone"): _LATE,
    ("every_value", "timestamp with time zone"): _LATE,
    ("every_domain", "timestamp without time zone"): _LATE,
    ("every_domain", "timestamp with time zone"): _LATE,
    ("every_array", "date"): _INFINITE,
    ("every_array", "timestamp without time zone"): _LATE,  # the first problem found
    ("every_array", "timestamp with time zone"): _LATE,
}


def _accepted(connection: psycopg.Connection[Any], kind: str) -> list[str]:
    """The candidates `kind` accepts, one per distinct text (the server's own judgement)."""
    kept: dict[str, str] = {}
    for literal in CANDIDATES:
        try:
            [(text,)] = connection.execute(f"SELECT %s::{kind}::text", (literal,)).fetchall()
        except psycopg.Error:
            continue
        kept.setdefault(text, literal)
    return list(kept.values())


def test_every_edge_value_of_every_catalog_type_arrives_exactly_or_fails_hop_1(
    sluice: Sluice, pg_database: str, pg_target: str, workdir: Path
) -> None:
    """Base types and an enum, domains over them, one composite holding all of them, and 1-D
    arrays:
    in a PostgreSQL sink each column keeps its declared type and every value its text,
    unless hop 1 refused the column naming it (REFUSED). The DuckDB sink holds exactly the
    lake's rows as DuckDB reads them; SQLite loads every value, refusing only NaN (which it
    would store as NULL)."""
    with psycopg.connect(pg_database, autocommit=True) as connection:
        usable = _usable_types(connection, "c {kind}, a {kind}[]")
        # An enum too, its labels edge values themselves (empty, blank, a word PostgreSQL
        # reserves as text elsewhere); user types go in after the catalog's own.
        connection.execute("CREATE TYPE mood AS ENUM ('', ' ', 'null', 'a', 'true')")
        usable.append("mood")
        values = {kind: _accepted(connection, kind) for kind in usable}
        assert values["mood"] == ["", " ", "a", "true", "null"]
        assert sum(len(v) for v in values.values()) > 300, values
        names = {kind: f"k{i}" for i, kind in enumerate(usable)}
        rows = max(len(v) for v in values.values())
        domains = "".join(f"CREATE DOMAIN d{i} AS {kind};" for i, kind in enumerate(usable))
        attributes = ", ".join(f"{names[k]} {k}" for k in usable)
        connection.execute(domains + f"CREATE TYPE every_row AS ({attributes})")
        connection.execute(f"CREATE TABLE every_value (id int PRIMARY KEY, {attributes})")
        for row in range(rows):
            given = [k for k in usable if row < len(values[k])]
            columns = ", ".join(names[k] for k in given)
            placeholders = ", ".join(f"%s::{k}" for k in given)
            connection.execute(
                f"INSERT INTO every_value (id, {columns}) VALUES ({row}, {placeholders})",
                [values[k][row] for k in given],
            )
        connection.execute("INSERT INTO every_value (id) VALUES (-1)")  # every column NULL
        large = ", ".join(f"{names[k]}" for k in LARGE_VALUES if k in names)
        connection.execute(
            f"INSERT INTO every_value (id, {large}) VALUES (-2, "
            + ", ".join(LARGE_VALUES[k] for k in LARGE_VALUES if k in names)
            + ")"
        )
        domain_columns = ", ".join(f"{names[k]} d{i}" for i, k in enumerate(usable))
        connection.execute(
            f"CREATE TABLE every_domain (id int PRIMARY KEY, {domain_columns});"
            f"INSERT INTO every_domain SELECT * FROM every_value;"
            "CREATE TABLE every_composite (id int PRIMARY KEY, r every_row);"
            "INSERT INTO every_composite SELECT id, ROW("
            + ", ".join(names[k] for k in usable)
            + ")::every_row FROM every_value WHERE id > -2;"
            "CREATE TABLE every_array (id int PRIMARY KEY, "
            + ", ".join(f"{names[k]} {k}[]" for k in usable)
            + ");"
            "INSERT INTO every_array SELECT 1, "
            + ", ".join(
                # (array_agg of a vector type makes a 2-D array of its elements instead)
                "NULL"
                if k.endswith("vector")
                else f"array_append(array_agg({names[k]} ORDER BY id), NULL)"
                for k in usable
            )
            + " FROM every_value WHERE id >= 0"
        )
    add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir)
    refused: dict[tuple[str, str], str] = {}
    kinds = {name: kind for kind, name in names.items()}
    for table in ("every_value", "every_domain", "every_composite", "every_array"):
        for column, why in _replicate_refusing(sluice, pg_database, table, usable, names).items():
            refused[(table, kinds[column])] = why
        _same_types_and_text(pg_database, pg_target, table)
        _duckdb_holds_the_lake(workdir, table)
        _sqlite_holds_what_duckdb_holds(workdir, table)
    assert refused == REFUSED


def _replicate_refusing(
    sluice: Sluice, source: str, table: str, usable: list[str], names: dict[str, str]
) -> dict[str, str]:
    """Replicate `table` into every sink through a view; a column hop 1 refuses (naming it)
    is left out of the view and the run repeated. Returns column -> the refusal's words."""
    refused: dict[str, str] = {}
    columns = {names[k] for k in usable}
    for sink in ("pg", "duck", "lite"):
        view = f"{table}_{sink}"
        added = False
        nan: set[str] = set()  # float columns holding NaN, which SQLite refuses (loudly)
        while True:
            kept = [c for c in sorted(columns) if c not in refused and c not in nan]
            listed = "id, r" if table == "every_composite" else ", ".join(["id", *kept])
            execute_view(source, view, table, listed)
            if not added:
                # (SQLite's NaN refusal comes at hop 2: the next view drops a published
                # column, which the table's contract must allow.)
                sluice(
                    f"table add {view} --source src --destination {sink} --sink-table {table} "
                    "--schema-contract dropped=evolve",
                    ok=True,
                )
                added = True
            ran = sluice(f"run {view} --json").json()
            if ran["status"] == "success":
                break
            error = ran["error_message"] or ""
            holds_nan = re.search(r"column '(k\d+)' holds NaN", error)
            if sink == "lite" and holds_nan:  # SQLite would store NaN as NULL: refused
                nan.add(holds_nan.group(1))
                continue
            match = re.search(r"column '(k\d+)' \([^)]*\)[^;:]*? (holds [^;:,]*)", error)
            assert match and "nothing was published" in error, (table, sink, error)
            refused[match.group(1)] = next(
                (why for why in (_LATE, _INFINITE) if why in error), match.group(2)
            )
    return refused


def _duckdb_holds_the_lake(workdir: Path, table: str) -> None:
    """Every row of the DuckDB sink table is a row of the lake batch it was loaded from, as
    DuckDB itself reads that Parquet (and as many): nothing changed on the way into DuckDB.
    With the PostgreSQL comparison (lake == source), DuckDB holds the source's values in
    its own closest types."""
    [batch] = sorted((workdir / "lake").rglob(f"{table}_duck/batch=*"))[-1:]
    # The lake's rows as sluice reads them: its own types (the files hold Iceberg's).
    manifest = Manifest.from_json((batch / "_manifest.json").read_bytes())
    lake_rows = pa.Table.from_batches(
        [
            to_logical(rows, manifest.schema)
            for part in sorted(batch.glob("part-*.parquet"))
            for rows in pq.read_table(part).to_batches()
        ],
        schema=manifest.schema,
    )
    with duckdb.connect(str(workdir / "wh.duckdb"), read_only=True) as connection:
        connection.register("lake_rows", lake_rows)
        columns = [
            str(row[0])
            for row in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]
        listed = ", ".join(f'"{c}"::VARCHAR' for c in columns)
        lake = f"SELECT {listed} FROM lake_rows"
        sink = f'SELECT {listed} FROM "{table}"'
        for one, other in ((sink, lake), (lake, sink)):
            [(differing,)] = connection.execute(
                f"SELECT count(*) FROM ({one} EXCEPT ALL {other})"
            ).fetchall()
            assert differing == 0, (table, one[:80])


# DuckDB type -> how SQLite stores the same value (docs/connectors/sqlite.md): the value
# itself for these; dates, timestamps, decimals, JSON, lists and UUIDs are text of their own
# spelling there, checked by the per-type tests.
_SQLITE_SAME = ("VARCHAR", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "USMALLINT",
                "UTINYINT", "DOUBLE", "FLOAT", "BLOB")  # fmt: skip


def _sqlite_holds_what_duckdb_holds(workdir: Path, table: str) -> None:
    """Column by column, the SQLite sink holds the DuckDB sink's values (booleans as 0/1):
    every type carried as exact text, every integer, float and binary value."""
    with duckdb.connect(str(workdir / "wh.duckdb"), read_only=True) as duck:
        kinds = dict(
            duck.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ?",
                [table],
            ).fetchall()
        )
        with sqlite3.connect(workdir / "wh.sqlite") as lite:
            present = {row[1] for row in lite.execute(f'PRAGMA table_info("{table}")')}
            compared = 0
            for column, kind in kinds.items():
                if column not in present or not (kind in _SQLITE_SAME or kind == "BOOLEAN"):
                    continue
                query = f'SELECT id, "{column}" FROM "{table}" ORDER BY id'
                want = [
                    (i, int(v) if isinstance(v, bool) else v)
                    for i, v in duck.execute(query).fetchall()
                ]
                got = lite.execute(query).fetchall()
                assert got == want, (table, column, kind)
                compared += 1
    assert compared > 0 or table == "every_composite", table


def execute_view(source: str, view: str, table: str, listed: str) -> None:
    with psycopg.connect(source, autocommit=True) as connection:
        connection.execute(f"DROP VIEW IF EXISTS {view}")
        connection.execute(f"CREATE VIEW {view} AS SELECT {listed} FROM {table}")


def _same_types_and_text(source: str, target: str, table: str) -> None:
    """Every column the sink has: the source's declared type (or exact text for AS_TEXT
    types) and, row by row, the source's text."""
    query = (
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
        "attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
    )
    with psycopg.connect(source) as left, psycopg.connect(target) as right:
        have: dict[str, str] = dict(right.execute(query, (table,)).fetchall())
        want: dict[str, str] = dict(left.execute(query, (table,)).fetchall())
        differing = {
            c: (want[c], t)
            for c, t in have.items()
            if t != want[c] and not (t.startswith("text") and _as_text_type(want[c], left))
        }
        assert differing == {}, (table, sorted(differing.items()))
        for column in have:
            query_text = f"SELECT id, {column}::text FROM {table} ORDER BY 1"
            expected = left.execute(query_text).fetchall()
            got = right.execute(query_text).fetchall()
            assert got == expected, (table, column, want[column])


def _as_text_type(declared: str, connection: psycopg.Connection[Any]) -> bool:
    """A declared type (or a domain over, or an array of, one) sluice carries as text."""
    [(base,)] = connection.execute(
        "SELECT format_type(coalesce(nullif(t.typbasetype, 0), t.oid), NULL) FROM pg_type t "
        "WHERE t.oid = to_regtype(%s)",
        (declared,),
    ).fetchall()
    return str(base).removesuffix("[]") in AS_TEXT
