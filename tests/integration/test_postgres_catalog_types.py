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

from pathlib import Path

import psycopg
import pytest

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
SAME = {"bit": "bit(1)", "character": "character(1)", "int2vector": "smallint[]"}


def test_every_catalog_type_loads_and_keeps_its_declared_type(
    sluice: Sluice, pg_database: str, pg_target: str, workdir: Path
) -> None:
    with psycopg.connect(pg_database, autocommit=True) as connection:
        listed = [str(row[0]) for row in connection.execute(CATALOG_SQL)]
        usable = []
        for kind in listed:
            try:
                connection.execute(f"CREATE TEMP TABLE probe (c {kind})")
                connection.execute("DROP TABLE probe")
                usable.append(kind)
            except psycopg.Error:
                continue
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
