"""Domains and composite types keep their declared types in a PostgreSQL sink, with the same
text; DuckDB gets a domain's base type and a composite's (or an array's) exact text. A domain
with a CHECK that the sink lacks, or a sink type of that name with another definition, fails
the load naming the type and the statement that fixes it: never a quietly different type.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import Sluice
from tests.integration.sinks import add_postgres_source_and_every_sink
from tests.integration.test_postgres_pipeline import column_types, execute, rows_text

pytestmark = pytest.mark.postgres

TYPES = """
CREATE DOMAIN posint AS integer NOT NULL CHECK (VALUE > 0);
CREATE DOMAIN code AS varchar(5);
CREATE DOMAIN stamp AS timestamp;
CREATE TYPE pair AS (a int, b text, c numeric(5,2));
"""
TABLE = """
CREATE TABLE things (id int PRIMARY KEY, p posint, k code, s stamp, c pair, cs pair[],
                     ps posint[]);
INSERT INTO things VALUES
  (1, 5, 'ab', '2024-05-01 12:00:00.5', '(1,"x ""y"" z",1.50)', '{"(1,x,2.00)",NULL}', '{1,2}'),
  (2, 2147483647, '', 'infinity', '(,,)', '{}', '{}'),
  (3, 1, NULL, NULL, NULL, NULL, NULL),
  (4, 7, 'ünï', '-infinity', '(-2147483648,"",-999.99)', '{"(,,)"}', '{7}');
"""


def test_domains_and_composites_keep_their_types_in_postgresql(
    sluice: Sluice, workdir: Path, pg_database: str, pg_target: str
) -> None:
    execute(pg_database, TYPES + TABLE)
    add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir)
    sluice("table add things --source src --destination pg --primary-key id", ok=True)

    # posint has a CHECK: sluice does not create it from the lake's metadata, it says how.
    failed = sluice("run things")
    assert failed.code == 1
    [line] = failed.err.strip().splitlines()
    assert "needs domain posint (domain over integer NOT NULL CHECK ((VALUE > 0)))" in line
    assert 'Create it there (CREATE DOMAIN "public"."posint" AS integer NOT NULL ' in line
    assert "or read the column as integer in a view on the source" in line
    with psycopg.connect(pg_target) as connection:
        assert connection.execute("SELECT to_regclass('things')").fetchone() == (None,)

    execute(pg_target, "CREATE DOMAIN posint AS integer NOT NULL CHECK (VALUE > 0)")
    sluice("run things --hop dl_to_sink", ok=True)
    assert column_types(pg_target, "things") == column_types(pg_database, "things")
    assert rows_text(pg_target, "things", "id") == rows_text(pg_database, "things", "id")
    with psycopg.connect(pg_target) as connection:
        made = connection.execute(
            "SELECT typname, typtype FROM pg_type WHERE typname IN ('code', 'stamp', 'pair') "
            "ORDER BY 1"
        ).fetchall()
    assert made == [("code", "d"), ("pair", "c"), ("stamp", "d")]

    # A second load finds the types as it made them.
    execute(pg_database, "UPDATE things SET p = 9 WHERE id = 1")
    sluice("run things", ok=True)
    assert rows_text(pg_target, "things", "id") == rows_text(pg_database, "things", "id")

    sluice("table edit things --destination duck", ok=True)
    sluice("run things --hop dl_to_sink", ok=True)
    with psycopg.connect(pg_database) as connection:
        expected = connection.execute(
            "SELECT id, p::integer, k::text, c::text, cs::text, ps::text FROM things ORDER BY id"
        ).fetchall()
    with duckdb.connect(str(workdir / "wh.duckdb"), read_only=True) as connection:
        got = connection.execute("SELECT id, p, k, c, cs, ps FROM things ORDER BY id").fetchall()
        kinds = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'things'"
            ).fetchall()
        )
    assert got == expected
    assert kinds["p"] == "INTEGER" and kinds["c"] == "VARCHAR" and kinds["s"] == "TIMESTAMP"


def test_a_sink_type_of_that_name_with_another_definition_fails_the_load(
    sluice: Sluice, workdir: Path, pg_database: str, pg_target: str
) -> None:
    execute(pg_database, TYPES + TABLE)
    execute(pg_target, "CREATE TYPE pair AS (a int, b text)")
    execute(pg_target, "CREATE DOMAIN posint AS integer NOT NULL CHECK (VALUE > 0)")
    add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir)
    sluice("table add things --source src --destination pg --primary-key id", ok=True)
    failed = sluice("run things")
    assert failed.code == 1
    [line] = failed.err.strip().splitlines()
    assert (
        "needs pair as the source has it (composite type (a integer, b text, c numeric(5,2)))"
        in line
    )
    assert "schema public of the sink has pair as composite type (a integer, b text)" in line
    assert "nothing was loaded" in line
    with psycopg.connect(pg_target) as connection:
        attributes = connection.execute(
            "SELECT count(*) FROM pg_attribute a JOIN pg_type t ON a.attrelid = t.typrelid "
            "WHERE t.typname = 'pair' AND a.attnum > 0"
        ).fetchone()
    assert attributes == (2,)  # left as it was


def test_a_damaged_definition_in_the_lake_is_never_spliced_into_ddl(
    sluice: Sluice, workdir: Path, pg_database: str, pg_target: str
) -> None:
    """The lake's metadata names types for CREATE TYPE: only plain type names pass."""
    execute(pg_database, "CREATE TYPE pair AS (a int, b text); CREATE TABLE t (id int, c pair)")
    execute(pg_database, "INSERT INTO t VALUES (1, '(1,x)')")
    add_postgres_source_and_every_sink(sluice, pg_database, pg_target, workdir)
    sluice("table add t --source src --destination pg", ok=True)
    sluice("run t --hop source_to_dl", ok=True)
    from sluice.lake.manifest import Manifest

    [path] = (workdir / "lake").rglob("_manifest.json")
    manifest = Manifest.from_json(path.read_bytes())
    field = manifest.schema.field("c")
    body = json.loads(field.metadata[b"sluice.pg_udt"])
    body["attributes"][1][1] = "text); DROP TABLE victim; --"
    damaged = field.with_metadata({**field.metadata, b"sluice.pg_udt": json.dumps(body).encode()})
    schema = manifest.schema.set(manifest.schema.get_field_index("c"), damaged)
    import dataclasses

    path.write_bytes(dataclasses.replace(manifest, schema=schema).to_json())
    execute(pg_target, "CREATE TABLE victim (x int)")
    failed = sluice("run t --hop dl_to_sink")
    assert failed.code == 1
    assert "names the type 'text); DROP TABLE victim; --', which is not a type name" in failed.err
    with psycopg.connect(pg_target) as connection:
        assert connection.execute("SELECT to_regclass('victim')").fetchone() == ("victim",)
