"""PostgreSQL -> lake -> PostgreSQL through the CLI: every type, watermarks, late rows.
(Chinook from PostgreSQL into each sink: tests/conformance/test_datasets.py.)

Values are compared as PostgreSQL prints them (row text in primary-key order), read from the
source and the target database directly, never through the code under test.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import Sluice
from tests.integration.sinks import read_sink

pytestmark = pytest.mark.postgres


def execute(url: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        # No parameters: the simple query protocol, so a script may hold many statements.
        connection.execute(sql, params or None)


def rows_text(url: str, table: str, order: str) -> list[str]:
    with psycopg.connect(url) as connection:
        connection.execute("SET TIME ZONE 'UTC'")  # both sides print instants alike
        return [
            row[0]
            for row in connection.execute(f"SELECT t::text FROM {table} AS t ORDER BY {order}")
        ]


def configure(sluice: Sluice, source: str, target: str) -> None:
    sluice("init", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': source})}'", ok=True)
    sluice(f"destination add dst --type postgres --creds '{json.dumps({'url': target})}'", ok=True)


def run(sluice: Sluice, table: str, *args: str) -> dict[str, Any]:
    result = sluice(f"run {table} --json", *args)
    assert result.code == 0, result.out + result.err
    payload: dict[str, Any] = result.json()
    return payload


def hop1_watermark(sluice: Sluice, table: str) -> str:
    shown = sluice(f"table show {table} --json", ok=True).json()
    return str(shown["source_to_dl"]["last_incremental_value"])


def extracted(payload: dict[str, Any]) -> int:
    return int(next(s for s in payload["stages"] if s["stage_type"] == "extract")["rows_processed"])


TYPES_DDL = '''
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."All ""Types""" (
    id integer PRIMARY KEY,
    "Small Int" smallint, "int" integer, big bigint,
    money_ numeric(12,2), wide numeric, huge numeric(60,20),
    r real, d double precision,
    t text, vc varchar(20), ch char(5), b boolean,
    day date, clock time, ts timestamp, tstz timestamptz, span interval,
    u uuid, j json, jb jsonb, raw bytea,
    ints integer[], texts text[], feeling mood
);
INSERT INTO "Odd Schema"."All ""Types""" VALUES
 (1, 1, 2, 3, 1234567890.12, 12345678901234567890123456789012345678901234.5678901,
  12345678901234567890123456789012345678.12345678901234567890,
  1.5, 2.25, 'plain', 'short', 'ab', true, '2024-02-29', '23:59:59.999999',
  '2024-01-01 00:00:00.000001', '2024-06-30 12:34:56.789012+02', '1 year 2 mons 3 days 04:05:06.7',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1,  "a": [1, 2]}', '{"b": 1, "a": [1, 2]}',
  '\\x00ff10', '{1,NULL,3}', '{"x","y z",NULL}', 'happy'),
 (2, -32768, -2147483648, -9223372036854775808, -0.01, -0.000000000000000000001, 0,
  'NaN', 'Infinity', 'quote '' and "double" and \\ and newline
here', '', '', false, '0001-01-01', '00:00:00', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00',
  '-1 days', '00000000-0000-0000-0000-000000000000', '[]', '{}', '\\x', '{}', '{}', 'sad'),
 (3, 32767, 2147483647, 9223372036854775807, 9999999999.99, 1e-30, -1, '-Infinity', '-Infinity',
  'ünïcödé ✓', 'x', 'abcde', NULL, '9999-12-31', '12:00:00', '2262-04-11 23:47:16.854775',
  '2000-02-29 23:59:59.999999-08', '0 seconds', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'null', 'null', '\\xdeadbeef', '{-1}', '{""}', 'ok'),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
'''


def test_every_type_arrives_identical_through_the_lake(
    sluice: Sluice, pg_database: str, pg_target: str
) -> None:
    execute(pg_database, TYPES_DDL)
    configure(sluice, pg_database, pg_target)
    execute(pg_target, 'CREATE SCHEMA "Odd Schema"')
    name = 'Odd Schema.All "Types"'
    sluice(
        "table add",
        name,
        "--source",
        "src",
        "--destination",
        "dst",
        "--sink-table",
        name,
        "--primary-key",
        "id",
        ok=True,
    )
    assert run(sluice, f"'{name}'")["status"] == "success"
    qualified = '"Odd Schema"."All ""Types"""'
    assert rows_text(pg_target, qualified, "id") == rows_text(pg_database, qualified, "id")
    # Declared types survive the lake: varchar(n), char(n), numeric(p,s), and the enum,
    # created in the sink table's schema.
    expected = column_types(pg_database, qualified)
    expected["feeling"] = '"Odd Schema".mood'
    assert column_types(pg_target, qualified) == expected
    assert labels(pg_target, '"Odd Schema".mood') == ["sad", "ok", "happy"]


def column_types(url: str, qualified: str) -> dict[str, str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
            "attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (qualified,),
        ).fetchall()
    return dict(rows)


def labels(url: str, type_name: str) -> list[str]:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT array_agg(enumlabel ORDER BY enumsortorder) FROM pg_enum "
            "WHERE enumtypid = to_regtype(%s)",
            (type_name,),
        ).fetchone()
    assert row is not None
    return list(row[0])


def test_declared_types_drift_through_the_lake(
    sluice: Sluice, pg_database: str, pg_target: str
) -> None:
    """Incremental batches whose declared types change: the sink widens and gains labels."""
    execute(
        pg_database,
        "CREATE TYPE state AS ENUM ('new', 'done'); "
        "CREATE TABLE tickets (id int PRIMARY KEY, title varchar(10), code char(3), s state); "
        "INSERT INTO tickets VALUES (1, 'short', 'ab', 'new'), (2, NULL, NULL, NULL)",
    )
    configure(sluice, pg_database, pg_target)
    sluice(
        "table add tickets --source src --destination dst --load incremental --key id "
        "--sink-load incremental --primary-key id",
        ok=True,
    )
    assert run(sluice, "tickets")["status"] == "success"
    assert column_types(pg_target, "tickets") == {
        "id": "integer",
        "title": "character varying(10)",
        "code": "character(3)",
        "s": "state",
    }
    execute(
        pg_database,
        "ALTER TABLE tickets ALTER title TYPE varchar(40); "
        "ALTER TYPE state ADD VALUE 'open' AFTER 'new'",
    )
    execute(pg_database, "INSERT INTO tickets VALUES (3, repeat('long', 10), 'xyz', 'open')")
    assert run(sluice, "tickets")["status"] == "success"
    assert column_types(pg_target, "tickets")["title"] == "character varying(40)"
    assert labels(pg_target, "state") == ["new", "open", "done"]
    assert rows_text(pg_target, "tickets", "id") == rows_text(pg_database, "tickets", "id")

    execute(pg_database, "ALTER TABLE tickets ALTER code TYPE char(2) USING left(code, 2)")
    execute(pg_database, "INSERT INTO tickets VALUES (4, 'x', 'ab', 'done')")
    failed = sluice("run tickets")
    assert failed.code == 1
    assert "column 'code' of sink table tickets is character(3) but the lake now has " in (
        failed.err
    )
    assert "character(2)" in failed.err


def test_a_load_over_batches_read_before_and_after_a_column_narrowed_keeps_every_value(
    sluice: Sluice, pg_database: str, pg_target: str
) -> None:
    """The source narrows varchar(50) to varchar(10) and renames an enum label between two
    incremental batches; each full sink load covers both, so it declares what holds both."""
    execute(
        pg_database,
        "CREATE TYPE phase AS ENUM ('new', 'old', 'done'); "
        "CREATE TABLE notes (id int PRIMARY KEY, title varchar(50), p phase); "
        "INSERT INTO notes VALUES (1, repeat('long', 10), 'old'), (2, 'short', 'new')",
    )
    configure(sluice, pg_database, pg_target)
    sluice(
        "table add notes --source src --destination dst --load incremental --key id "
        "--sink-load full --primary-key id",
        ok=True,
    )
    assert run(sluice, "notes")["status"] == "success"
    before = rows_text(pg_target, "notes", "id")
    assert before == [f"(1,{'long' * 10},old)", "(2,short,new)"]
    execute(
        pg_database,
        "ALTER TABLE notes ALTER title TYPE varchar(10) USING left(title, 10); "
        "ALTER TYPE phase RENAME VALUE 'old' TO 'stale'; "
        "INSERT INTO notes VALUES (3, 'tiny', 'stale')",
    )
    assert run(sluice, "notes")["status"] == "success"
    assert column_types(pg_target, "notes") == {
        "id": "integer",
        "title": "character varying(50)",
        "p": "text",  # the lake holds 'old' and 'stale': no one enum holds both
    }
    assert rows_text(pg_target, "notes", "id") == [*before, "(3,tiny,stale)"]


# Keys a session's time zone or a float could bend; bigint and text keys are in the
# conformance suite (test_an_incremental_key_of_each_kind_is_kept_exactly), as for every source.
KEYS = [
    ("timestamptz", "'2024-03-10 01:59:59.999998-05'::timestamptz", "interval '1 microsecond'"),
    ("timestamp", "'2024-03-10 01:59:59.999998'::timestamp", "interval '1 microsecond'"),
    ("date", "'2024-03-10'::date", "1"),
    ("numeric(30,10)", "12345678901234567890.0000000001", "0.0000000001"),
]


@pytest.mark.parametrize(("kind", "start", "step"), KEYS, ids=[k[0] for k in KEYS])
def test_watermarks_keep_full_precision_in_a_non_utc_session(
    sluice: Sluice, pg_database: str, pg_target: str, kind: str, start: str, step: str
) -> None:
    """Rows one microsecond apart: none skipped, none read twice, no reload loop."""
    database = pg_database.rsplit("/", 1)[1]
    execute(pg_database, f"ALTER DATABASE \"{database}\" SET timezone TO 'America/Sao_Paulo'")
    cast = "numeric" if kind.startswith("numeric") else kind

    def value(n: int) -> str:
        return f"({start} + {n} * {step})::{cast}"

    execute(pg_database, f"CREATE TABLE keyed (id serial PRIMARY KEY, k {kind} NOT NULL, v text)")
    execute(
        pg_database,
        f"INSERT INTO keyed (k, v) VALUES ({value(1)}, 'a'), ({value(2)}, 'b'), ({value(2)}, 'c')",
    )
    configure(sluice, pg_database, pg_target)
    sluice(
        "table add keyed --source src --destination dst --load incremental --key k "
        "--sink-load incremental --primary-key id",
        ok=True,
    )
    assert extracted(run(sluice, "keyed")) == 3
    watermark = hop1_watermark(sluice, "keyed")
    assert extracted(run(sluice, "keyed")) == 0  # no reload loop at the boundary
    execute(pg_database, f"INSERT INTO keyed (k, v) VALUES ({value(2)}, 'd'), ({value(3)}, 'e')")
    assert extracted(run(sluice, "keyed")) == 2  # the equal-key row and the next one, once
    assert extracted(run(sluice, "keyed")) == 0
    assert hop1_watermark(sluice, "keyed") != watermark
    assert rows_text(pg_target, "keyed", "id") == rows_text(pg_database, "keyed", "id")


def test_a_late_commit_with_an_old_timestamp_arrives_once(
    sluice: Sluice, pg_database: str, pg_target: str
) -> None:
    execute(pg_database, "CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz NOT NULL)")
    execute(pg_database, "INSERT INTO events VALUES (1, now() - interval '1 hour'), (2, now())")
    configure(sluice, pg_database, pg_target)
    sluice(
        "table add events --source src --destination dst --load incremental --key at "
        "--sink-load incremental --primary-key id --lookback 10m",
        ok=True,
    )
    assert extracted(run(sluice, "events")) == 2
    late = psycopg.connect(pg_database)
    late.execute("INSERT INTO events VALUES (3, now() - interval '2 minutes')")  # open transaction
    assert extracted(run(sluice, "events")) == 0
    late.commit()
    late.close()
    assert extracted(run(sluice, "events")) == 1
    assert extracted(run(sluice, "events")) == 0
    assert rows_text(pg_target, "events", "id") == rows_text(pg_database, "events", "id")


def test_the_sink_password_never_shows(sluice: Sluice, pg_database: str, workdir: Path) -> None:
    secret = "s3cr3t-Pa55-planted"
    sluice("init", ok=True)
    creds = json.dumps(
        {"host": "127.0.0.1", "port": 1, "user": "postgres", "password": secret, "database": "x"}
    )
    refused = sluice(f"destination add bad --type postgres --creds '{creds}' --json")
    assert refused.code == 3 and "did not answer" in refused.err and secret not in refused.err
    added = sluice(f"destination add bad --type postgres --creds '{creds}' --json --no-check")
    for command in (
        "destination list",
        "destination list --json",
        "destination show bad",
        "destination show bad --json",
    ):
        assert secret not in sluice(command, ok=True).out
    assert secret not in added.out
    tested = sluice("destination test bad")
    assert tested.code == 1 and secret not in tested.err + tested.out
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': pg_database})}'", ok=True)
    execute(pg_database, "CREATE TABLE t (id int PRIMARY KEY)")
    sluice("table add t --source src --destination bad --no-check", ok=True)
    failed = sluice("run t")
    assert failed.code == 1
    shown = sluice("runs show 1 --json")
    for text in (failed.out, failed.err, shown.out):
        assert secret not in text


@pytest.mark.parametrize("sink_type", ["duckdb", "sqlite"])
def test_every_postgresql_type_loads_into_the_embedded_sinks(
    sluice: Sluice, pg_database: str, workdir: Path, sink_type: str
) -> None:
    execute(pg_database, TYPES_DDL)
    sluice("init", ok=True)
    sluice(f"source add src --type postgres --creds '{json.dumps({'url': pg_database})}'", ok=True)
    path = workdir / f"wh.{sink_type}"
    sluice(
        f"destination add dst --type {sink_type} --creds '{json.dumps({'path': str(path)})}'",
        ok=True,
    )
    name = 'Odd Schema.All "Types"'
    sluice(
        "table add",
        name,
        "--source",
        "src",
        "--destination",
        "dst",
        "--sink-table",
        "all_types",
        "--primary-key",
        "id",
        ok=True,
    )
    if sink_type == "sqlite":
        # SQLite stores NaN as NULL: refused before anything is loaded, with the fix; the
        # source then says what it means (here: NULL) and the table loads.
        refused = sluice(f"run '{name}' --json")
        assert refused.code == 1 and refused.json()["status"] == "failed"
        message = refused.json()["error_message"]
        assert "column 'r' holds NaN in 1 row(s) of this load: SQLite stores NaN as NULL" in (
            message
        )
        assert not sqlite_has_table(path, "all_types")
        execute(pg_database, 'UPDATE "Odd Schema"."All ""Types""" SET r = NULL WHERE id = 2')
    assert run(sluice, f"'{name}'")["status"] == "success"
    loaded = read_sink(sink_type, path, "all_types").sort_by("id")
    assert loaded.num_rows == 4
    uuids = [str(u) if u is not None else None for u in loaded.column("u").to_pylist()]
    assert uuids[0] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert loaded.column("t").to_pylist()[2] == "ünïcödé ✓"


def sqlite_has_table(path: Path, table: str) -> bool:
    with sqlite3.connect(path) as connection:
        found = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    return bool(found[0])
