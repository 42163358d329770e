"""The PostgreSQL connector against the real server on 127.0.0.1:5432 (user postgres, trust).

Each module run creates its own database `sluice_t_<random>` and drops it at the end. Values
are compared by PostgreSQL itself (row text, EXCEPT ALL both ways), never by re-reading them
through the code under test.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import psycopg
import pyarrow as pa
import pytest

from sluice.connectors.base import LoadRequest, ReadRequest
from sluice.connectors.postgres.config import PostgresCreds
from sluice.connectors.postgres.sink import PostgresSink
from sluice.connectors.postgres.source import PostgresSource
from sluice.connectors.registry import redacted_creds, validate_creds
from sluice.connectors.sqlsink import Change
from sluice.core.errors import ConfigError, StageError, TerminalError, TransientError
from sluice.core.models import LoadMode, TableRef

pytestmark = pytest.mark.postgres

HOST, PORT = "127.0.0.1", 5432
PASSWORD = "pw-Secr3t-9431"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    try:
        admin = psycopg.connect(
            host=HOST,
            port=PORT,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL at {HOST}:{PORT} is not reachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: service-backed tests must not skip)")
        pytest.skip(reason)
    name = f"sluice_t_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def db(database: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(
        host=HOST, port=PORT, user="postgres", dbname=database, autocommit=True
    ) as connection:
        yield connection


@pytest.fixture
def creds(database: str) -> PostgresCreds:
    return PostgresCreds(host=HOST, port=PORT, user="postgres", database=database)


@pytest.fixture
def source(creds: PostgresCreds) -> Iterator[PostgresSource]:
    opened = PostgresSource(creds)
    yield opened
    opened.close()


@pytest.fixture
def sink(creds: PostgresCreds) -> Iterator[PostgresSink]:
    opened = PostgresSink(creds)
    yield opened
    opened.close()


def copy_table(
    source: PostgresSource,
    sink: PostgresSink,
    src: TableRef,
    dst: TableRef,
    *,
    mode: LoadMode = LoadMode.REPLACE,
    batch_ids: tuple[int, ...] = (1,),
    run_id: int = 1,
    primary_key: tuple[str, ...] | None = None,
    dedupe: bool = False,
) -> tuple[int, int]:
    info = source.check(src)
    result = sink.load(
        LoadRequest(
            table=dst,
            mode=mode,
            schema=info.schema,
            lake_table=f"lake/{src.name}",
            batch_ids=batch_ids,
            run_id=run_id,
            primary_key=info.primary_key if primary_key is None else primary_key,
            dedupe=dedupe,
        ),
        source.read(ReadRequest(table=src)),
    )
    held = sink.check(dst)
    return result.rows_loaded, held.row_count or 0 if held is not None else 0


def differing_rows(db: psycopg.Connection[Any], left: str, right: str) -> int:
    """Rows (as PostgreSQL's own text of the whole row) in one table but not the other."""
    row = db.execute(
        f"SELECT count(*) FROM ((SELECT t::text FROM {left} t EXCEPT ALL "
        f"SELECT t::text FROM {right} t) UNION ALL (SELECT t::text FROM {right} t "
        f"EXCEPT ALL SELECT t::text FROM {left} t)) AS d"
    ).fetchone()
    assert row is not None
    return int(row[0])


def column_types(db: psycopg.Connection[Any], qualified: str) -> dict[str, str]:
    rows = db.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (qualified,),
    ).fetchall()
    return dict(rows)


def scalar(db: psycopg.Connection[Any], sql: str, params: tuple[Any, ...] = ()) -> Any:
    row = db.execute(sql, params or None).fetchone()
    assert row is not None
    return row[0]


# ---- (1) every type round trips exactly --------------------------------------------------
# source column type -> the type the sink declares for what the source yields
ROUND_TRIP_TYPES = {
    "c_smallint": ("smallint", "smallint"),
    "c_integer": ("integer", "integer"),
    "c_bigint": ("bigint", "bigint"),
    "c_numeric": ("numeric(12,2)", "numeric(12,2)"),
    "c_numeric_wide": ("numeric(60,12)", "numeric(60,12)"),
    "c_numeric_free": ("numeric", "numeric"),
    "c_real": ("real", "real"),
    "c_double": ("double precision", "double precision"),
    "c_text": ("text", "text"),
    "c_varchar": ("character varying(20)", "character varying(20)"),
    "c_boolean": ("boolean", "boolean"),
    "c_date": ("date", "date"),
    "c_timestamp": ("timestamp without time zone", "timestamp without time zone"),
    "c_timestamptz": ("timestamp with time zone", "timestamp with time zone"),
    "c_uuid": ("uuid", "uuid"),
    "c_jsonb": ("jsonb", "jsonb"),
    "c_bytea": ("bytea", "bytea"),
    "c_char": ("character(3)", "character(3)"),
    "c_varchar_free": ("character varying", "character varying"),
    "c_varchar_list": ("character varying(4)[]", "character varying(4)[]"),
    # The sink creates the enum in the target's schema, with the same labels in order.
    "c_enum": ("rt_mood", "copy.rt_mood"),
}
RT_MOOD_LABELS = ["sad", "it's ok", "happy", "Ünïcode"]

ROUND_TRIP_ROWS = """
INSERT INTO types_src VALUES
 (1, 32767, 2147483647, 9223372036854775807, 1234567890.12,
  123456789012345678901234567890123456789012345678.123456789012,
  98765432109876543210987654321098765432109876543210.0123456789012345678901234567890001,
  3.25, 2.718281828459045, 'héllo, ''world'' 🚀', 'short', true, '2024-02-29',
  '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.123456+05:30',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.5, null], "ü": {"b": "c"}}',
  '\\x00ff10', 'ab', 'free', '{ab,NULL,abcd}', 'it''s ok'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, -32768, -2147483648, -9223372036854775808, -0.01, -0.000000000001, 'NaN',
  'NaN', 'NaN', '', '', false, '0001-01-01', '1900-01-01 00:00:00',
  '1970-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', '[]', '\\x',
  '', '', '{}', 'sad'),
 (4, 0, 0, 0, 0, 0, '-0.5', 'Infinity', 'Infinity', E'line\\nbreak\\ttab', 'x', true,
  '9999-12-31', '2262-04-11 23:47:16', '1969-12-31 23:59:59.999999-01',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', '"just a string"', '\\x5c00', ' b ', ' b ',
  '{""," a "}', 'Ünïcode'),
 (5, 1, 1, 1, 1, 1, '1e-30', '-Infinity', '-Infinity', 'NULL', 'null', false,
  '1999-12-31', '2000-01-01 00:00:00.000001', '2038-01-19 03:14:08+00',
  '123e4567-e89b-12d3-a456-426614174000', '{"nested": {"deep": [true, false]}}', '\\xdeadbeef',
  'abc', repeat('long ', 100), '{abcd}', 'happy')
"""


def enum_labels(db: psycopg.Connection[Any], type_name: str) -> list[str]:
    return list(scalar(db, "SELECT enum_range(NULL::%s)::text[]" % type_name))  # noqa: UP031


def test_types_round_trip_source_to_sink_exactly(
    db: psycopg.Connection[Any], source: PostgresSource, sink: PostgresSink
) -> None:
    labels = ", ".join("'" + label.replace("'", "''") + "'" for label in RT_MOOD_LABELS)
    db.execute(f"CREATE TYPE rt_mood AS ENUM ({labels})")
    columns = ", ".join(f"{name} {kind}" for name, (kind, _) in ROUND_TRIP_TYPES.items())
    db.execute(f"CREATE TABLE types_src (id integer PRIMARY KEY, {columns})")
    db.execute(ROUND_TRIP_ROWS)

    loaded, total = copy_table(
        source, sink, TableRef("types_src", "public"), TableRef("types_dst", "copy")
    )

    assert (loaded, total) == (5, 5)
    assert differing_rows(db, "public.types_src", "copy.types_dst") == 0
    expected = {"id": "integer"} | {name: kind for name, (_, kind) in ROUND_TRIP_TYPES.items()}
    assert column_types(db, "copy.types_dst") == expected
    # NULL in every column of row 2, NaN/Infinity kept as such (not as NULL or text).
    every = ", ".join(ROUND_TRIP_TYPES)
    assert scalar(db, f"SELECT num_nulls({every}) FROM copy.types_dst WHERE id = 2") == len(
        ROUND_TRIP_TYPES
    )
    assert enum_labels(db, "copy.rt_mood") == RT_MOOD_LABELS
    # char(n) keeps its padding, the enum its order (not the labels' alphabetical one).
    assert scalar(db, "SELECT octet_length(c_char) FROM copy.types_dst WHERE id = 4") == 3
    ordered = db.execute("SELECT id FROM copy.types_dst ORDER BY c_enum, id").fetchall()
    assert [row[0] for row in ordered] == [3, 1, 5, 4, 2]
    assert scalar(
        db, "SELECT c_double = 'Infinity' AND c_real = 'Infinity' FROM copy.types_dst WHERE id = 4"
    )
    assert scalar(db, "SELECT c_double = 'NaN' FROM copy.types_dst WHERE id = 3")


def test_source_schema_keeps_numeric_exact(
    source: PostgresSource, db: psycopg.Connection[Any]
) -> None:
    db.execute(
        "CREATE TABLE nums (small numeric(12,2), wide numeric(39,0), free numeric, "
        "cash money, neg numeric(5,-2))"
    )
    db.execute(
        "INSERT INTO nums VALUES (1.5, 10^38, 1.000000000000000000000000000000000000001, "
        "12.34, 12345)"
    )
    info = source.check(TableRef("nums"))
    assert [f.type for f in info.schema] == [
        pa.decimal128(12, 2),
        pa.string(),
        pa.string(),
        pa.string(),
        pa.string(),
    ]
    [row] = pa.Table.from_batches(list(source.read(ReadRequest(TableRef("nums"))))).to_pylist()
    assert row == {
        "small": Decimal("1.50"),
        "wide": "1" + "0" * 38,
        "free": "1.000000000000000000000000000000000000001",
        "cash": "12.34",
        "neg": "12300",
    }


def test_read_streams_in_bounded_batches_and_can_stop_early(
    source: PostgresSource, db: psycopg.Connection[Any]
) -> None:
    db.execute(
        "CREATE TABLE many AS SELECT g AS id, md5(g::text) AS s FROM generate_series(1, 5000) g"
    )
    batches = list(source.read(ReadRequest(TableRef("many"), batch_rows=700)))
    assert sum(b.num_rows for b in batches) == 5000
    assert max(b.num_rows for b in batches) <= 700

    # read() is a generator (declared an Iterator): close() runs its cleanup
    reader = cast(
        Generator[pa.RecordBatch, None, None],
        source.read(ReadRequest(TableRef("many"), batch_rows=100)),
    )
    assert next(reader).num_rows == 100
    reader.close()  # abandoning a read ends its transaction; the connection stays usable
    assert source.check(TableRef("many")).row_count == 5000


# ---- (2) odd names -------------------------------------------------------------------------
def test_schema_qualified_mixed_case_names_with_spaces_and_quotes(
    db: psycopg.Connection[Any], source: PostgresSource, sink: PostgresSink
) -> None:
    db.execute('CREATE SCHEMA "Sales Dept"')
    db.execute(
        'CREATE TABLE "Sales Dept"."Order Lines" ("Line No" integer PRIMARY KEY, '
        '"Qty ""x""" integer, "Note" text)'
    )
    db.execute("""INSERT INTO "Sales Dept"."Order Lines" VALUES (1, 2, 'a'), (2, NULL, 'b"c')""")
    table = TableRef.parse("Sales Dept.Order Lines")

    info = source.check(table)
    assert info.schema.names == ["Line No", 'Qty "x"', "Note"]
    assert (info.row_count, info.primary_key) == (2, ("Line No",))

    target = TableRef("Order Lines", "Sales Dept Copy")
    assert copy_table(source, sink, table, target) == (2, 2)
    assert copy_table(source, sink, table, target, mode=LoadMode.MERGE, batch_ids=(2,)) == (2, 2)
    assert differing_rows(db, '"Sales Dept"."Order Lines"', '"Sales Dept Copy"."Order Lines"') == 0
    assert sink.held_batches(target, "lake/Order Lines") == {1, 2}


# ---- (3) incremental reads -----------------------------------------------------------------
INCREMENTAL_CASES = [
    ("id", 3, [3, 4, 5]),
    ("id", None, [1, 2, 3, 4, 5]),
    ("id", 99, []),
    ("at", datetime(2024, 1, 3, tzinfo=UTC), [3, 4, 5]),
    ("at_local", datetime(2024, 1, 4, 12, 0), [4, 5]),
    ("amount", Decimal("2.50"), [2, 3, 4, 5]),
    ("code", "O'Brien", [3, 4, 5]),  # a quote in the bound: it is bound, never spliced
]


@pytest.mark.parametrize(("key", "bound", "expected"), INCREMENTAL_CASES)
def test_incremental_read_returns_rows_at_or_above_the_bound(
    source: PostgresSource, db: psycopg.Connection[Any], key: str, bound: Any, expected: list[int]
) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS events (id bigint, at timestamptz, at_local timestamp, "
        "amount numeric(10,2), code text)"
    )
    if scalar(db, "SELECT count(*) FROM events") == 0:
        db.execute(
            "INSERT INTO events VALUES "
            "(1, '2024-01-01 00:00+00', '2024-01-01 00:00', 1.00, 'Adams'), "
            "(2, '2024-01-02 00:00+00', '2024-01-02 00:00', 2.50, 'Miller'), "
            "(3, '2024-01-03 00:00+00', '2024-01-03 00:00', 3.75, 'O''Brien'), "
            "(4, '2024-01-03 23:00-05', '2024-01-04 12:00', 10.00, 'Smith'), "
            "(5, '2024-01-05 00:00+00', '2024-01-05 00:00', 2.51, 'Young')"
        )
    request = ReadRequest(TableRef("events"), incremental_key=key, lower_bound=bound)
    schema = source.check(TableRef("events")).schema
    rows = pa.Table.from_batches(list(source.read(request)), schema=schema)
    assert sorted(rows.column("id").to_pylist()) == expected


def test_incremental_key_that_is_not_a_column_is_terminal(
    source: PostgresSource, db: psycopg.Connection[Any]
) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS keyless (id bigint)")
    with pytest.raises(TerminalError, match="incremental key 'nope' is not a column"):
        list(source.read(ReadRequest(TableRef("keyless"), incremental_key="nope", lower_bound=1)))


# ---- (4) REPLACE swaps in one transaction --------------------------------------------------
def _live_rows(db: psycopg.Connection[Any], qualified: str) -> list[tuple[Any, ...]]:
    return db.execute(f"SELECT * FROM {qualified} ORDER BY 1").fetchall()


def _load(sink: PostgresSink, table: TableRef, rows: pa.Table, **kw: Any) -> int:
    request = LoadRequest(
        table=table,
        mode=kw.pop("mode", LoadMode.REPLACE),
        schema=rows.schema,
        lake_table="lake/t",
        batch_ids=kw.pop("batch_ids", (1,)),
        run_id=kw.pop("run_id", 1),
        **kw,
    )
    sink.load(request, iter(rows.to_batches()))
    info = sink.check(table)
    assert info is not None and info.row_count is not None
    return info.row_count


def test_failed_replace_after_the_swap_leaves_the_old_table_intact(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    table = TableRef("swap_me", "atomic")
    old = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "v": ["a", "b", "c"]})
    assert _load(sink, table, old, primary_key=("id",)) == 3

    new = pa.table({"id": pa.array([7, 8], pa.int64()), "v": ["x", "y"], "w": [1.0, 2.0]})
    # The same lake batch twice violates the state table's key: this fails after the live table
    # was dropped and the new one renamed into its place, inside the same transaction.
    with pytest.raises(TerminalError, match="duplicate key"):
        _load(sink, table, new, batch_ids=(5, 5), run_id=2)

    assert _live_rows(db, "atomic.swap_me") == [(1, "a"), (2, "b"), (3, "c")]
    assert sink.held_batches(table, "lake/t") == {1}
    leftovers = scalar(db, "SELECT count(*) FROM pg_class WHERE relname LIKE '\\_\\_sluice\\_%'")
    assert leftovers == 0


def test_bad_data_fails_the_load_and_keeps_the_old_table(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    table = TableRef("keep_me", "atomic")
    assert _load(sink, table, pa.table({"id": pa.array([1], pa.int64())})) == 1
    finer_than_postgres = pa.table({"id": pa.array([1_000_000_001], pa.timestamp("ns"))})
    with pytest.raises(TerminalError, match="without losing data"):
        _load(sink, table, finer_than_postgres, run_id=2)
    assert _live_rows(db, "atomic.keep_me") == [(1,)]
    assert scalar(db, "SELECT to_regclass('atomic.__sluice_stage_2_keep_me')") is None
    # A value PostgreSQL itself rejects: text read from an inet column that is no address.
    inet = pa.field("addr", pa.string(), metadata={"POSTGRESQL:type": "inet"})
    bad_address = pa.table({"id": pa.array([2], pa.int64()), "addr": ["not an address"]})
    with pytest.raises(TerminalError, match="invalid input syntax for type inet"):
        _load(
            sink,
            table,
            bad_address.cast(pa.schema([bad_address.schema.field(0), inet])),
            mode=LoadMode.APPEND,
            run_id=3,
        )
    assert scalar(db, "SELECT to_regclass('atomic.__sluice_stage_3_keep_me')") is None
    assert _live_rows(db, "atomic.keep_me") == [(1,)]
    assert sink.ping().startswith("PostgreSQL")  # the connection survived both failures


def test_readers_never_see_an_empty_or_missing_table_during_replace(
    database: str, db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    table = TableRef("busy", "atomic")
    _load(sink, table, pa.table({"id": pa.array([1], pa.int64())}))
    lid = scalar(db, "SELECT 'atomic.busy'::regclass::oid")
    dsn: dict[str, Any] = {"host": HOST, "port": PORT, "user": "postgres", "dbname": database}

    def waiting_locks() -> int:
        return int(
            scalar(db, "SELECT count(*) FROM pg_locks WHERE relation = %s AND NOT granted", (lid,))
        )

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 20
        while waiting_locks() < count:
            assert time.monotonic() < deadline, "the expected lock wait never happened"
            time.sleep(0.02)

    results: dict[str, Any] = {}

    def load_new() -> None:
        try:
            results["load"] = _load(
                sink, table, pa.table({"id": pa.array(range(10, 15), pa.int64())}), run_id=2
            )
        except StageError as exc:  # reported through results, asserted below
            results["load"] = exc

    def late_reader() -> None:
        with psycopg.connect(**dsn, autocommit=True) as reader:
            try:
                results["reader"] = scalar(reader, "SELECT count(*) FROM atomic.busy")
            except psycopg.Error as exc:
                results["reader"] = exc

    with psycopg.connect(**dsn) as early_reader:
        early_reader.execute("SELECT count(*) FROM atomic.busy").fetchone()  # holds its lock
        loader = threading.Thread(target=load_new)
        loader.start()
        wait_for(1)  # the swap waits for the early reader
        reader = threading.Thread(target=late_reader)
        reader.start()
        wait_for(2)  # a new reader queues behind the swap
        early_reader.commit()
    loader.join(30)
    reader.join(30)
    assert results == {"load": 5, "reader": 5}


@pytest.fixture
def roles(db: psycopg.Connection[Any]) -> Iterator[tuple[str, str]]:
    """An owner and a reader role of the test's own (roles are cluster-wide)."""
    names = tuple(f"sluice_{kind}_{secrets.token_hex(4)}" for kind in ("owner", "reader"))
    for name in names:
        db.execute(f'CREATE ROLE "{name}"')
    try:
        yield names[0], names[1]
    finally:
        for name in names:
            db.execute(f'DROP OWNED BY "{name}"')  # its tables, and what was granted to it
            db.execute(f'DROP ROLE "{name}"')


def table_grants(db: psycopg.Connection[Any], role: str, qualified: str) -> list[str]:
    rows = db.execute(
        "SELECT privilege_type || CASE WHEN is_grantable = 'YES' THEN '*' ELSE '' END "
        "FROM information_schema.role_table_grants WHERE grantee = %s "
        "AND format('%%I.%%I', table_schema, table_name) = %s ORDER BY 1",
        (role, qualified),
    ).fetchall()
    return [row[0] for row in rows]


def acl(db: psycopg.Connection[Any], qualified: str) -> list[str]:
    rows = db.execute(
        "SELECT item::text FROM pg_class, unnest(relacl) AS item WHERE oid = %s::regclass "
        "ORDER BY 1",
        (qualified,),
    ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize("dedupe", [False, True], ids=["direct", "staged"])
def test_a_full_load_keeps_owner_grants_and_comments(
    db: psycopg.Connection[Any], sink: PostgresSink, roles: tuple[str, str], dedupe: bool
) -> None:
    owner, reader = roles
    table = TableRef("granted", f"keep_{int(dedupe)}")
    qualified = f"{table.schema}.granted"
    first = pa.table({"id": pa.array([1], pa.int64()), "gone": ["x"], "v": ["a"]})
    _load(sink, table, first, primary_key=("id",))
    db.execute(f'ALTER TABLE {qualified} OWNER TO "{owner}"')
    db.execute(f'GRANT SELECT ON {qualified} TO "{reader}"')
    db.execute(f'GRANT UPDATE, DELETE ON {qualified} TO "{reader}" WITH GRANT OPTION')
    db.execute(f'GRANT INSERT (v), UPDATE (gone) ON {qualified} TO "{reader}"')
    db.execute(f"GRANT SELECT ON {qualified} TO PUBLIC")
    db.execute(f'REVOKE TRUNCATE ON {qualified} FROM "{owner}"')  # the owner's own, too
    db.execute(f"COMMENT ON TABLE {qualified} IS 'Orders; it''s \\ \"quoted\"'")
    db.execute(f"COMMENT ON COLUMN {qualified}.v IS 'the value'")
    db.execute(f"COMMENT ON COLUMN {qualified}.gone IS 'dropped by the next load'")
    before = acl(db, qualified)

    second = pa.table({"id": pa.array([1, 2], pa.int64()), "v": ["b", "c"], "new": [1.0, 2.0]})
    assert _load(sink, table, second, run_id=2, primary_key=("id",), dedupe=dedupe) == 2

    oid = scalar(db, f"SELECT '{qualified}'::regclass::oid")
    assert scalar(db, f"SELECT v FROM {qualified} WHERE id = 2") == "c"  # the new table
    assert scalar(db, f"SELECT relowner::regrole::text FROM pg_class WHERE oid = {oid}") == owner
    assert table_grants(db, reader, qualified) == ["DELETE*", "SELECT", "UPDATE*"]
    assert table_grants(db, "PUBLIC", qualified) == ["SELECT"]
    assert acl(db, qualified) == before
    assert not scalar(db, f"SELECT has_table_privilege('{owner}', {oid}, 'TRUNCATE')")
    assert scalar(db, f"SELECT has_table_privilege('{owner}', {oid}, 'SELECT')")
    assert scalar(db, f"SELECT has_column_privilege('{reader}', {oid}, 'v', 'INSERT')")
    assert not scalar(db, f"SELECT has_column_privilege('{reader}', {oid}, 'id', 'INSERT')")
    assert scalar(db, f"SELECT obj_description({oid}, 'pg_class')") == 'Orders; it\'s \\ "quoted"'
    comments = db.execute(
        "SELECT attname, col_description(attrelid, attnum) FROM pg_attribute "
        "WHERE attrelid = %s AND attnum > 0 ORDER BY attnum",
        (oid,),
    ).fetchall()
    assert comments == [("id", None), ("v", "the value"), ("new", None)]


def test_a_first_load_grants_nothing_extra(db: psycopg.Connection[Any], sink: PostgresSink) -> None:
    table = TableRef("fresh_grants", "keep")
    _load(sink, table, pa.table({"id": pa.array([1], pa.int64())}))
    _load(sink, table, pa.table({"id": pa.array([2], pa.int64())}), run_id=2)
    assert scalar(db, "SELECT relacl FROM pg_class WHERE oid = 'keep.fresh_grants'::regclass") is (
        None
    )


# ---- leftovers of killed loads -------------------------------------------------------------
def test_leftover_staging_tables_of_the_same_table_are_dropped_exactly(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    table = TableRef("orders", "leftover")
    _load(sink, table, pa.table({"id": pa.array([1], pa.int64())}))
    long_name = "orders_" + "x" * 60
    mine = [
        sink.sibling(table, "__sluice_stage_", 7).name,
        sink.sibling(table, "__sluice_new_", 8).name,
    ]
    others = [
        sink.sibling(TableRef("orders_archive", "leftover"), "__sluice_stage_", 7).name,
        sink.sibling(TableRef(long_name, "leftover"), "__sluice_new_", 9).name,
        "__sluice_stage_x_orders",  # no run id: not a name sluice gives
    ]
    for name in mine + others:
        db.execute(f'CREATE UNLOGGED TABLE leftover."{name}" (id bigint)')
    db.execute('CREATE TABLE public."__sluice_stage_7_orders" (id bigint)')  # another schema

    for run_id, mode in ((11, LoadMode.MERGE), (12, LoadMode.REPLACE)):
        rows = pa.table({"id": pa.array([run_id], pa.int64())})
        _load(sink, table, rows, mode=mode, run_id=run_id, batch_ids=(run_id,))
        remaining = db.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'leftover'::regnamespace "
            "AND relname LIKE '\\_\\_sluice%%' ORDER BY 1"
        ).fetchall()
        assert sorted(row[0] for row in remaining) == sorted(others)
        db.execute(f'CREATE UNLOGGED TABLE leftover."{mine[0]}" (id bigint)')
    assert scalar(db, "SELECT to_regclass('public.\"__sluice_stage_7_orders\"') IS NOT NULL")


def test_long_names_that_begin_alike_get_distinct_siblings(sink: PostgresSink) -> None:
    a = TableRef("a" * 50 + "_one", "s")
    b = TableRef("a" * 50 + "_two", "s")
    names = {sink.sibling(t, "__sluice_stage_", 123456).name for t in (a, b)}
    assert len(names) == 2
    assert all(len(name.encode()) <= 60 for name in names)
    unicode = sink.sibling(TableRef("ü" * 40, "s"), "__sluice_new_", 1).name
    assert len(unicode.encode()) <= 60


# ---- declared types: varchar(n), char(n), enums ----------------------------------------------
def declared(kind: pa.DataType, pg_type: str, enum: tuple[str, list[str]] | None = None) -> Any:
    from sluice.connectors.postgres.types import declared_metadata

    return kind, declared_metadata(pg_type, enum)


def with_declared(rows: pa.Table, types: dict[str, Any]) -> pa.Table:
    fields = [
        rows.schema.field(name).with_metadata(types[name][1])
        if name in types
        else rows.schema.field(name)
        for name in rows.column_names
    ]
    return rows.cast(pa.schema(fields))


def test_declared_text_types_drift_by_widening_only(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    table = TableRef("sized", "drift_sized")
    rows = pa.table({"id": pa.array([1], pa.int64()), "v": ["abc"], "c": ["ab"]})
    first = {
        "v": declared(pa.string(), "character varying(10)"),
        "c": declared(pa.string(), "character(2)"),
    }
    _load(sink, table, with_declared(rows, first), primary_key=("id",))
    assert column_types(db, "drift_sized.sized") == {
        "id": "bigint",
        "v": "character varying(10)",
        "c": "character(2)",
    }

    wider = {
        "v": declared(pa.string(), "character varying(20)"),
        "c": declared(pa.string(), "character(4)"),
    }
    more = pa.table({"id": pa.array([2], pa.int64()), "v": ["x" * 20], "c": ["abcd"]})
    _load(
        sink,
        table,
        with_declared(more, wider),
        mode=LoadMode.MERGE,
        run_id=2,
        batch_ids=(2,),
        primary_key=("id",),
    )
    assert column_types(db, "drift_sized.sized") == {
        "id": "bigint",
        "v": "character varying(20)",
        "c": "character(4)",
    }
    text = {"v": declared(pa.string(), "text"), "c": wider["c"]}
    third = pa.table({"id": pa.array([3], pa.int64()), "v": ["y" * 30], "c": ["a"]})
    _load(sink, table, with_declared(third, text), mode=LoadMode.APPEND, run_id=3, batch_ids=(3,))
    assert column_types(db, "drift_sized.sized")["v"] == "text"

    narrower = {"c": declared(pa.string(), "character(3)")}
    with pytest.raises(
        TerminalError,
        match=r"column 'c' .* is character\(4\) but the lake now "
        r"has character\(3\)",
    ):
        _load(
            sink,
            table,
            with_declared(pa.table({"id": pa.array([4], pa.int64()), "c": ["abc"]}), narrower),
            mode=LoadMode.APPEND,
            run_id=4,
            batch_ids=(4,),
        )
    assert scalar(db, "SELECT count(*) FROM drift_sized.sized") == 3


TYPE_CHANGES = [
    ("character varying(10)", "character varying(20)", Change.WIDEN),
    ("character varying(20)", "character varying(10)", Change.KEEP),
    ("character varying(10)", "character varying", Change.WIDEN),
    ("character varying", "character varying(10)", Change.KEEP),
    ("character varying(10)", "text", Change.WIDEN),
    ("character(2)", "character(4)", Change.WIDEN),
    ("character(4)", "character(2)", Change.REFUSE),
    ("character(4)", "character varying(4)", Change.WIDEN),
    ("character varying(4)", "character(4)", Change.KEEP),
    ("character varying(3)", "character(4)", Change.REFUSE),
    ("character varying(3)[]", "character varying(5)[]", Change.WIDEN),
    ("character varying(3)[]", "text[]", Change.WIDEN),
    ("character varying(3)", "text[]", Change.REFUSE),
    ("text", "character varying(4)", Change.KEEP),
    ("text", "character(4)", Change.KEEP),
    ("character varying(4)", "character varying(4)", Change.KEEP),
    # char(n) pads to its own n: a wider live char would change the values readers get.
    ("character(20)", "character(10)", Change.REFUSE),
    # Earlier versions declared varchar(n)[] and char(n)[] as text[]: such a table keeps loading.
    ("text[]", "character varying(10)[]", Change.KEEP),
    ("text[]", "character(3)[]", Change.KEEP),
    ("text[]", "character varying[]", Change.KEEP),
    ("text", "character varying(4)[]", Change.REFUSE),
    ("text[]", "character varying(4)", Change.REFUSE),
    # numeric: kept when the live column holds every incoming value, else widened (the
    # ALTER's target holds both: see test_numeric_columns_are_kept_or_widened_to_hold_both).
    ("numeric", "numeric(12,2)", Change.KEEP),
    ("numeric", "numeric", Change.KEEP),
    ("numeric(12,2)", "numeric", Change.WIDEN),
    ("numeric(10,2)", "numeric(12,2)", Change.WIDEN),
    ("numeric(12,2)", "numeric(10,2)", Change.KEEP),
    ("numeric(12,4)", "numeric(10,2)", Change.KEEP),
    ("numeric(12,2)", "numeric(12,4)", Change.WIDEN),
    ("numeric(12,4)", "numeric(12,2)", Change.WIDEN),
    ("numeric(7,0)", "numeric(5,-2)", Change.KEEP),
    ("numeric(5,-2)", "numeric(7,0)", Change.WIDEN),
    ("numeric(12,2)", "integer", Change.REFUSE),
    ("integer", "bigint", Change.WIDEN),
    ("bigint", "integer", Change.KEEP),
    ("integer", "text", Change.REFUSE),
    ("text", "integer", Change.REFUSE),
]


@pytest.mark.parametrize(("live", "incoming", "change"), TYPE_CHANGES)
def test_type_changes_of_sink_columns(
    sink: PostgresSink, live: str, incoming: str, change: Change
) -> None:
    assert sink.type_change(live, incoming) is change


def test_text_columns_of_earlier_loads_take_declared_types_as_they_are(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    """A sink table from before declared types (text) keeps loading, values unchanged."""
    db.execute("CREATE SCHEMA legacy")
    db.execute("CREATE TABLE legacy.t (id bigint PRIMARY KEY, v text, c text, m text)")
    types = {
        "v": declared(pa.string(), "character varying(5)"),
        "c": declared(pa.string(), "character(4)"),
        "m": declared(pa.string(), "legacy_mood", ("legacy_mood", ["a", "b"])),
    }
    rows = pa.table({"id": pa.array([1], pa.int64()), "v": ["abc"], "c": ["ab  "], "m": ["b"]})
    _load(
        sink,
        TableRef("t", "legacy"),
        with_declared(rows, types),
        mode=LoadMode.MERGE,
        primary_key=("id",),
    )
    assert column_types(db, "legacy.t") == {"id": "bigint", "v": "text", "c": "text", "m": "text"}
    assert _live_rows(db, "legacy.t") == [(1, "abc", "ab  ", "b")]  # char(n)'s padding kept


def test_an_enum_gains_the_labels_the_source_added(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    table = TableRef("moods", "enums")
    one = {"m": declared(pa.string(), "gain", ("gain", ["b", "d"]))}
    _load(sink, table, with_declared(pa.table({"m": ["b", "d"]}), one))
    two = {"m": declared(pa.string(), "gain", ("gain", ["a", "b", "c", "d", "e"]))}
    rows = pa.table({"m": ["a", "c", "e", None]})
    _load(sink, table, with_declared(rows, two), mode=LoadMode.APPEND, run_id=2, batch_ids=(2,))
    assert enum_labels(db, "enums.gain") == ["a", "b", "c", "d", "e"]
    assert column_types(db, "enums.moods") == {"m": "enums.gain"}
    ordered = db.execute("SELECT m::text FROM enums.moods ORDER BY m NULLS LAST").fetchall()
    assert [row[0] for row in ordered] == ["a", "b", "c", "d", "e", None]
    # The lake holding fewer labels than the sink is fine: every value still fits.
    _load(
        sink,
        table,
        with_declared(pa.table({"m": ["b"]}), one),
        mode=LoadMode.APPEND,
        run_id=3,
        batch_ids=(3,),
    )
    assert enum_labels(db, "enums.gain") == ["a", "b", "c", "d", "e"]


def test_an_enum_that_conflicts_in_the_sink_becomes_text(
    db: psycopg.Connection[Any], sink: PostgresSink, caplog: pytest.LogCaptureFixture
) -> None:
    db.execute("CREATE SCHEMA clash; CREATE TYPE clash.mood AS ENUM ('x', 'y')")
    types = {"m": declared(pa.string(), "mood", ("mood", ["a", "b"]))}
    with caplog.at_level(logging.WARNING, logger="sluice.postgres"):
        _load(sink, TableRef("t", "clash"), with_declared(pa.table({"m": ["a", "b"]}), types))
    assert column_types(db, "clash.t") == {"m": "text"}
    assert enum_labels(db, "clash.mood") == ["x", "y"]  # left alone
    assert "loaded as text" in caplog.text
    # A later load whose enum does map changes the column back only by a full load.
    db.execute("CREATE TYPE clash.other AS ENUM ('a', 'b')")
    other = {"m": declared(pa.string(), "other", ("other", ["a", "b"]))}
    _load(
        sink,
        TableRef("t", "clash"),
        with_declared(pa.table({"m": ["a"]}), other),
        mode=LoadMode.APPEND,
        run_id=2,
        batch_ids=(2,),
    )
    assert column_types(db, "clash.t") == {"m": "text"}
    assert scalar(db, "SELECT count(*) FROM clash.t") == 3


def enums_in(db: psycopg.Connection[Any], schema: str) -> dict[str, list[str]]:
    rows = db.execute(
        "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_type t "
        "JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid "
        "WHERE n.nspname = %s GROUP BY t.typname",
        (schema,),
    ).fetchall()
    return {name: list(labels) for name, labels in rows}


def status_rows(ids: list[int], states: list[str | None]) -> pa.Table:
    # string even when every value is null, as the source yields an enum column
    rows = pa.table({"id": pa.array(ids, pa.int64()), "s": pa.array(states, pa.string())})
    return with_declared(rows, {"s": declared(pa.string(), "status", ("status", ["open", "shut"]))})


@pytest.mark.parametrize("mode", [LoadMode.REPLACE, LoadMode.MERGE])
def test_an_enum_named_like_its_sink_table_is_loaded_as_text(
    db: psycopg.Connection[Any],
    sink: PostgresSink,
    caplog: pytest.LogCaptureFixture,
    mode: LoadMode,
) -> None:
    """A table's row type takes the table's name: such an enum would block the table."""
    schema = f"named_{mode.value}"
    table = TableRef("status", schema)
    with caplog.at_level(logging.WARNING, logger="sluice.postgres"):
        rows = status_rows([1, 2, 3], ["open", "shut", None])
        _load(sink, table, rows, mode=mode, primary_key=("id",))
    assert "loaded as text" in caplog.text
    assert column_types(db, f"{schema}.status") == {"id": "bigint", "s": "text"}
    assert enums_in(db, schema) == {}
    # Every later load too (nothing was left behind to trip over).
    later = status_rows([4], ["shut"])
    _load(sink, table, later, mode=LoadMode.MERGE, run_id=2, batch_ids=(2,), primary_key=("id",))
    assert _live_rows(db, f"{schema}.status") == [(1, "open"), (2, "shut"), (3, None), (4, "shut")]


def test_a_table_and_another_sources_enum_of_its_name_share_a_schema(
    db: psycopg.Connection[Any], sink: PostgresSink, caplog: pytest.LogCaptureFixture
) -> None:
    # The table first: the enum of the same name is never created.
    _load(sink, TableRef("status", "shared_a"), pa.table({"v": ["x"]}))
    with caplog.at_level(logging.WARNING, logger="sluice.postgres"):
        _load(sink, TableRef("tickets", "shared_a"), status_rows([1, 2], ["open", "shut"]))
    assert "loaded as text" in caplog.text
    assert column_types(db, "shared_a.tickets") == {"id": "bigint", "s": "text"}
    assert _live_rows(db, "shared_a.tickets") == [(1, "open"), (2, "shut")]
    assert enums_in(db, "shared_a") == {}

    # The enum first: it is renamed out of the table's way; the column using it keeps it,
    # under its new name, at its own table's later loads too.
    tickets = TableRef("tickets", "shared_b")
    _load(sink, tickets, status_rows([1, 2], ["open", "shut"]), primary_key=("id",))
    assert column_types(db, "shared_b.tickets") == {"id": "bigint", "s": "shared_b.status"}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sluice.postgres"):
        _load(sink, TableRef("status", "shared_b"), status_rows([7], ["shut"]), run_id=2)
    assert "renamed to status_enum" in caplog.text
    assert column_types(db, "shared_b.status") == {"id": "bigint", "s": "text"}
    assert _live_rows(db, "shared_b.status") == [(7, "shut")]
    assert enums_in(db, "shared_b") == {"status_enum": ["open", "shut"]}
    assert column_types(db, "shared_b.tickets")["s"] == "shared_b.status_enum"
    later = status_rows([3], [None])
    _load(sink, tickets, later, mode=LoadMode.MERGE, run_id=3, batch_ids=(3,), primary_key=("id",))
    assert column_types(db, "shared_b.tickets")["s"] == "shared_b.status_enum"
    assert _live_rows(db, "shared_b.tickets") == [(1, "open"), (2, "shut"), (3, None)]


def test_a_column_keeps_its_renamed_enum_while_a_view_reads_it(
    db: psycopg.Connection[Any], sink: PostgresSink, caplog: pytest.LogCaptureFixture
) -> None:
    """A view reading the column through a cast depends on the column, not on the enum:
    the enum is renamed for the new table, and the column must not become text (PostgreSQL
    refuses that ALTER while the view exists, on every retry)."""
    tickets = TableRef("tickets", "aside_view")
    _load(sink, tickets, status_rows([1], ["open"]), primary_key=("id",))
    db.execute(
        "CREATE VIEW aside_view.open_ids AS SELECT id FROM aside_view.tickets "
        "WHERE s::text = 'open'"
    )
    _load(sink, TableRef("status", "aside_view"), pa.table({"v": ["x"]}), run_id=2)
    assert enums_in(db, "aside_view") == {"status_enum": ["open", "shut"]}
    for run in (3, 4):  # the second merge finds the same state the first one left
        _load(
            sink,
            tickets,
            status_rows([run], ["shut"]),
            mode=LoadMode.MERGE,
            run_id=run,
            batch_ids=(run,),
            primary_key=("id",),
        )
    assert column_types(db, "aside_view.tickets")["s"] == "aside_view.status_enum"
    assert _live_rows(db, "aside_view.tickets") == [(1, "open"), (3, "shut"), (4, "shut")]
    assert _live_rows(db, "aside_view.open_ids") == [(1,)]

    # The source gained a label: the renamed enum is sluice's, so it is extended.
    gained = with_declared(
        pa.table({"id": pa.array([5], pa.int64()), "s": ["held"]}),
        {"s": declared(pa.string(), "status", ("status", ["open", "held", "shut"]))},
    )
    _load(sink, tickets, gained, mode=LoadMode.MERGE, run_id=5, batch_ids=(5,), primary_key=("id",))
    assert enums_in(db, "aside_view") == {"status_enum": ["open", "held", "shut"]}
    assert column_types(db, "aside_view.tickets")["s"] == "aside_view.status_enum"
    assert scalar(db, "SELECT s::text FROM aside_view.tickets WHERE id = 5") == "held"

    # A new column read from that enum has no enum of its own to keep: text, with a warning.
    added = with_declared(
        pa.table({"id": pa.array([6], pa.int64()), "s": ["open"], "t": ["shut"]}),
        {
            "s": declared(pa.string(), "status", ("status", ["open", "held", "shut"])),
            "t": declared(pa.string(), "status", ("status", ["open", "held", "shut"])),
        },
    )
    with caplog.at_level(logging.WARNING, logger="sluice.postgres"):
        _load(
            sink, tickets, added, mode=LoadMode.MERGE, run_id=6, batch_ids=(6,), primary_key=("id",)
        )
    assert "column t of aside_view.tickets is loaded as text" in caplog.text
    assert column_types(db, "aside_view.tickets") == {
        "id": "bigint",
        "s": "aside_view.status_enum",
        "t": "text",
    }


@pytest.mark.parametrize(
    ("live", "incoming", "value", "wanted"),
    [
        ("numeric(10,2)", pa.decimal128(12, 2), Decimal("1234567890.12"), "numeric(12,2)"),
        ("character varying(3)", "character varying(8)", "longer", "character varying(8)"),
        ("blocked_enum", "text", "other", "text"),
    ],
    ids=["numeric", "varchar", "enum-to-text"],
)
def test_a_widening_a_view_blocks_says_what_blocks_it_and_what_to_do(
    db: psycopg.Connection[Any],
    sink: PostgresSink,
    live: str,
    incoming: Any,
    value: Any,
    wanted: str,
) -> None:
    schema = "blocked_" + re.sub(r"\W", "", live)[:12]
    db.execute(f"CREATE SCHEMA {schema}")
    if live == "blocked_enum":
        db.execute(f"CREATE TYPE {schema}.blocked_enum AS ENUM ('a')")
        live = f"{schema}.blocked_enum"
    db.execute(f"CREATE TABLE {schema}.t (id bigint, v {live})")
    db.execute(f"CREATE VIEW {schema}.reader AS SELECT v FROM {schema}.t")
    if isinstance(incoming, pa.DataType):
        rows = pa.table({"id": pa.array([1], pa.int64()), "v": pa.array([value], incoming)})
    else:
        rows = with_declared(
            pa.table({"id": pa.array([1], pa.int64()), "v": [value]}),
            {"v": declared(pa.string(), incoming)},
        )
    expected = (
        rf"column 'v' of sink table {schema}\.t must change from {re.escape(live)} to "
        rf"{re.escape(wanted)} .* \(view {schema}\.reader\): drop those objects, change the "
        rf"column by hand \(ALTER TABLE \"{schema}\"\.\"t\" ALTER COLUMN \"v\" TYPE "
        rf"{re.escape(wanted)}\) and create them again, or drop them"
    )
    for run in (1, 2):  # the same answer on a retry: nothing was left half done
        with pytest.raises(TerminalError, match=expected):
            _load(sink, TableRef("t", schema), rows, mode=LoadMode.APPEND, run_id=run)
    assert column_types(db, f"{schema}.t")["v"] == live
    assert scalar(db, f"SELECT count(*) FROM {schema}.t") == 0
    # Done by hand as the message says, the load goes through.
    db.execute(
        f"BEGIN; DROP VIEW {schema}.reader; ALTER TABLE {schema}.t ALTER COLUMN v TYPE {wanted}; "
        f"CREATE VIEW {schema}.reader AS SELECT v FROM {schema}.t; COMMIT"
    )
    _load(sink, TableRef("t", schema), rows, mode=LoadMode.APPEND, run_id=3)
    assert scalar(db, f"SELECT count(*) FROM {schema}.reader") == 1


def test_an_enum_made_by_a_failed_load_does_not_block_later_loads(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    def moods(labels: list[str], values: list[str]) -> pa.Table:
        types = {"m": declared(pa.string(), "fmood", ("fmood", labels))}
        return with_declared(pa.table({"m": values}), types)

    table = TableRef("t", "failed")
    # The same lake batch twice fails the load after the enum was made (and committed).
    with pytest.raises(TerminalError, match="duplicate key"):
        _load(sink, table, moods(["a", "b"], ["a"]), batch_ids=(5, 5))
    assert enums_in(db, "failed") == {"fmood": ["a", "b"]}
    assert column_types(db, "failed.t") == {}
    # The source renamed a label meanwhile: the unused enum is made again with the new ones.
    _load(sink, table, moods(["a", "c"], ["a", "c"]), run_id=2)
    assert enums_in(db, "failed") == {"fmood": ["a", "c"]}
    assert column_types(db, "failed.t") == {"m": "failed.fmood"}

    # A failed load's enum holding the name of a table loaded later: dropped for the table.
    with pytest.raises(TerminalError, match="duplicate key"):
        _load(sink, TableRef("u", "failed"), status_rows([1], ["open"]), run_id=3, batch_ids=(6, 6))
    assert "status" in enums_in(db, "failed")
    _load(sink, TableRef("status", "failed"), pa.table({"v": ["x"]}), run_id=4)
    assert _live_rows(db, "failed.status") == [("x",)]
    assert enums_in(db, "failed") == {"fmood": ["a", "c"]}


def test_a_type_sluice_did_not_make_keeps_its_name_from_the_sink_table(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    db.execute("CREATE SCHEMA theirs; CREATE TYPE theirs.status AS ENUM ('mine')")
    expected = (
        r"type theirs\.status in schema theirs has the name of sink table theirs\.status; "
        r".* rename or drop the type"
    )
    with pytest.raises(TerminalError, match=expected):
        _load(sink, TableRef("status", "theirs"), pa.table({"v": ["x"]}))
    assert enums_in(db, "theirs") == {"status": ["mine"]}
    assert scalar(db, "SELECT to_regclass('theirs.status') IS NULL")


@pytest.mark.parametrize(
    ("schema", "use", "user"),
    [
        (
            "dep_column",
            "CREATE TABLE dep_column.app_table (st dep_column.status)",
            "column st of table dep_column.app_table",
        ),
        (
            "dep_array",
            "CREATE TABLE dep_array.app_table (st dep_array.status[])",
            "column st of table dep_array.app_table",
        ),
        (
            "dep_function",
            "CREATE FUNCTION dep_function.f() RETURNS dep_function.status LANGUAGE sql "
            "AS $$ SELECT 'open'::dep_function.status $$",
            "function dep_function.f()",
        ),
        (
            "dep_domain",
            "CREATE DOMAIN dep_domain.d AS dep_domain.status",
            "type dep_domain.d",
        ),
    ],
    ids=["column", "array-column", "function", "domain"],
)
def test_an_enum_of_sluices_the_application_uses_keeps_its_name(
    db: psycopg.Connection[Any], sink: PostgresSink, schema: str, use: str, user: str
) -> None:
    """Renamed, the enum would be renamed under the application's objects too."""
    _load(sink, TableRef("tickets", schema), status_rows([1], ["open"]), primary_key=("id",))
    db.execute(use)
    expected = (
        rf"enum {schema}\.status in schema {schema} has the name of sink table {schema}\.status; "
        rf".* \(also used by: {re.escape(user)}\): rename or drop the type, or load into "
        "another table"
    )
    with pytest.raises(TerminalError, match=expected):
        _load(sink, TableRef("status", schema), pa.table({"v": ["x"]}), run_id=2)
    assert enums_in(db, schema) == {"status": ["open", "shut"]}
    assert scalar(db, "SELECT to_regclass(%s) IS NULL", (f"{schema}.status",))
    assert column_types(db, f"{schema}.tickets")["s"] == f"{schema}.status"


def test_an_enum_only_unqualified_sink_tables_use_is_renamed_aside(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    """The state table names a table loaded without a schema as the bare name."""
    types = {"s": declared(pa.string(), "dq_status", ("dq_status", ["open", "shut"]))}
    rows = with_declared(pa.table({"id": pa.array([1], pa.int64()), "s": ["open"]}), types)
    _load(sink, TableRef("dq_tickets"), rows)
    assert column_types(db, "public.dq_tickets")["s"] == "dq_status"
    _load(sink, TableRef("dq_status"), pa.table({"v": ["x"]}), run_id=2)
    assert _live_rows(db, "public.dq_status") == [("x",)]
    assert column_types(db, "public.dq_tickets")["s"] == "dq_status_enum"


@pytest.fixture
def loader(db: psycopg.Connection[Any], creds: PostgresCreds, database: str) -> Iterator[str]:
    """A login role that may connect and create in schema public, and not in the database."""
    name = f"sluice_loader_{secrets.token_hex(4)}"
    db.execute(f'CREATE ROLE "{name}" LOGIN')
    try:
        db.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{name}"')
        db.execute(f'GRANT USAGE, CREATE ON SCHEMA public TO "{name}"')
        # The sink's state table, shared by all its loads, is made by earlier tests' role.
        owner = PostgresSink(creds)
        try:
            owner.ensure_state_table()
        finally:
            owner.close()
        db.execute(f'GRANT SELECT, INSERT, DELETE ON public."_sluice_state" TO "{name}"')
        yield name
    finally:
        db.execute(f'DROP OWNED BY "{name}"')  # its tables and enums, and what it was granted
        db.execute(f'DROP ROLE "{name}"')


def loader_sink(database: str, role: str) -> PostgresSink:
    return PostgresSink(PostgresCreds(host=HOST, port=PORT, user=role, database=database))


def test_a_loader_without_create_on_the_database_loads_enum_columns(
    db: psycopg.Connection[Any], database: str, loader: str
) -> None:
    db.execute(f'CREATE SCHEMA lp_app; GRANT USAGE, CREATE ON SCHEMA lp_app TO "{loader}"')
    moods = {"m": declared(pa.string(), "lp_mood", ("lp_mood", ["a", "b"]))}
    sink = loader_sink(database, loader)
    try:
        for table in (TableRef("lp_plain"), TableRef("t", "lp_app")):
            first = pa.table({"id": pa.array([1], pa.int64()), "m": ["a"]})
            _load(sink, table, with_declared(first, moods), primary_key=("id",))  # direct
            later = pa.table({"id": pa.array([1, 2], pa.int64()), "m": ["b", "a"]})
            _load(  # staged
                sink,
                table,
                with_declared(later, moods),
                mode=LoadMode.MERGE,
                run_id=2,
                batch_ids=(2,),
                primary_key=("id",),
            )
    finally:
        sink.close()
    assert column_types(db, "public.lp_plain") == {"id": "bigint", "m": "lp_mood"}
    assert column_types(db, "lp_app.t") == {"id": "bigint", "m": "lp_app.lp_mood"}
    for qualified in ("public.lp_plain", "lp_app.t"):
        assert db.execute(f"SELECT id, m::text FROM {qualified} ORDER BY id").fetchall() == [
            (1, "b"),
            (2, "a"),
        ]


def test_an_enum_sluice_did_not_make_is_never_extended(
    db: psycopg.Connection[Any],
    sink: PostgresSink,
    database: str,
    loader: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db.execute("CREATE SCHEMA app7; CREATE TYPE app7.mood AS ENUM ('a', 'b')")
    db.execute(f'GRANT USAGE, CREATE ON SCHEMA app7 TO "{loader}"')
    more = {"m": declared(pa.string(), "mood", ("mood", ["a", "b", "c"]))}
    restricted = loader_sink(database, loader)
    try:
        # Neither a role that may alter it nor one that may not: the labels are permanent.
        for run, loading in ((1, sink), (2, restricted)):
            caplog.clear()
            rows = with_declared(pa.table({"m": ["a", "c"]}), more)
            with caplog.at_level(logging.WARNING, logger="sluice.postgres"):
                _load(loading, TableRef(f"t{run}", "app7"), rows, run_id=run)
            assert "sluice extends only the enums it created" in caplog.text
            assert column_types(db, f"app7.t{run}") == {"m": "text"}
            assert _live_rows(db, f"app7.t{run}") == [("a",), ("c",)]
        assert enum_labels(db, "app7.mood") == ["a", "b"]

        # One that has every label the source has is used as it is.
        fewer = {"m": declared(pa.string(), "mood", ("mood", ["b"]))}
        _load(restricted, TableRef("t3", "app7"), with_declared(pa.table({"m": ["b"]}), fewer))
        assert column_types(db, "app7.t3") == {"m": "app7.mood"}

        # sluice's own enum, made by another role: extending it fails, so text, not a load
        # that fails on every retry.
        gain = {"m": declared(pa.string(), "gain7", ("gain7", ["x"]))}
        _load(sink, TableRef("u1", "app7"), with_declared(pa.table({"m": ["x"]}), gain))
        assert column_types(db, "app7.u1") == {"m": "app7.gain7"}
        gained = {"m": declared(pa.string(), "gain7", ("gain7", ["x", "y"]))}
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sluice.postgres"):
            rows = with_declared(pa.table({"m": ["y", "x"]}), gained)
            _load(restricted, TableRef("u2", "app7"), rows, run_id=4)
        assert "could not take the labels ['x', 'y']" in caplog.text
        assert "must be owner" in caplog.text
        assert column_types(db, "app7.u2") == {"m": "text"}
        assert enum_labels(db, "app7.gain7") == ["x"]
    finally:
        restricted.close()


def test_sized_text_arrays_load_into_text_arrays_of_earlier_loads(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    """Earlier versions declared varchar(n)[] and char(n)[] as text[]: appends keep going."""
    db.execute("CREATE SCHEMA legacy_arr")
    db.execute("CREATE TABLE legacy_arr.t (id bigint PRIMARY KEY, v text[], c text[])")
    db.execute("INSERT INTO legacy_arr.t VALUES (1, '{old}', '{ab}')")
    types = {
        "v": declared(pa.list_(pa.string()), "character varying(10)[]"),
        "c": declared(pa.list_(pa.string()), "character(3)[]"),
    }
    rows = pa.table(
        {"id": pa.array([2], pa.int64()), "v": [["new", None, ""]], "c": [["ab ", "xyz"]]}
    )
    table = TableRef("t", "legacy_arr")
    _load(sink, table, with_declared(rows, types), mode=LoadMode.APPEND, run_id=2)
    _load(
        sink,
        table,
        with_declared(rows.set_column(0, "id", pa.array([3], pa.int64())), types),
        mode=LoadMode.MERGE,
        run_id=3,
        batch_ids=(3,),
        primary_key=("id",),
    )
    assert column_types(db, "legacy_arr.t") == {"id": "bigint", "v": "text[]", "c": "text[]"}
    assert _live_rows(db, "legacy_arr.t") == [
        (1, ["old"], ["ab"]),
        (2, ["new", None, ""], ["ab ", "xyz"]),  # char(n)'s padding kept, as in the lake
        (3, ["new", None, ""], ["ab ", "xyz"]),
    ]


def test_numeric_columns_are_kept_or_widened_to_hold_both(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    db.execute("CREATE SCHEMA num")
    db.execute("CREATE TABLE num.free (id bigint PRIMARY KEY, v numeric)")
    db.execute(
        "CREATE TABLE num.sized (id bigint PRIMARY KEY, v numeric(10,2), w numeric(12,4), "
        "x numeric(12,2), y numeric(8,3))"
    )
    db.execute("INSERT INTO num.sized VALUES (1, 12345678.12, 12345678.1234, 0.5, 12345.678)")
    # An unconstrained live column holds any numeric(p,s) as it is.
    free = pa.table(
        {
            "id": pa.array([1], pa.int64()),
            "v": pa.array([Decimal("1234567890.12")], pa.decimal128(12, 2)),
        }
    )
    _load(sink, TableRef("free", "num"), free, mode=LoadMode.APPEND)
    assert column_types(db, "num.free") == {"id": "bigint", "v": "numeric"}

    unconstrained = {b"POSTGRESQL:type": b"numeric"}  # as the source gives numeric: text
    sized = pa.table(
        {
            "id": pa.array([2], pa.int64()),
            # two more digits before the point: numeric(12,2)
            "v": pa.array([Decimal("1234567890.12")], pa.decimal128(12, 2)),
            # 10 digits before the point and scale 2 meet 8 and 4: numeric(14,4)
            "w": pa.array([Decimal("9999999999.99")], pa.decimal128(12, 2)),
            # unconstrained incoming: unconstrained
            "x": pa.array(["1e-30"], pa.string()),
            # fits as it is: kept
            "y": pa.array([Decimal("99.9")], pa.decimal128(4, 1)),
        }
    )
    sized = sized.cast(sized.schema.set(3, sized.schema.field("x").with_metadata(unconstrained)))
    _load(sink, TableRef("sized", "num"), sized, mode=LoadMode.APPEND, run_id=2, batch_ids=(2,))
    assert column_types(db, "num.sized") == {
        "id": "bigint",
        "v": "numeric(12,2)",
        "w": "numeric(14,4)",
        "x": "numeric",
        "y": "numeric(8,3)",
    }
    values = db.execute("SELECT v::text, w::text, x::text, y::text FROM num.sized ORDER BY id")
    assert values.fetchall() == [
        ("12345678.12", "12345678.1234", "0.50", "12345.678"),
        ("1234567890.12", "9999999999.9900", "0.000000000000000000000000000001", "99.900"),
    ]


def test_numeric_scales_only_newer_servers_take_are_declared_by_server_version() -> None:
    from sluice.connectors.postgres.types import PG_TYPE, PG_TYPMOD
    from sluice.connectors.postgres.writing import sink_column

    def numeric(precision: int, scale: int) -> pa.Field:
        typmod = ((precision << 16) | (scale & 0x7FF)) + 4
        metadata = {PG_TYPE: b"numeric", PG_TYPMOD: str(typmod).encode()}
        return pa.field("v", pa.string(), metadata=metadata)

    for field, newer in [
        (numeric(5, -2), "numeric(5,-2)"),
        (numeric(3, 5), "numeric(3,5)"),
        (pa.field("v", pa.decimal128(5, -2)), "numeric(5,-2)"),
    ]:
        assert sink_column(field, server_version_num=150000).declared == newer
        assert sink_column(field).declared == newer
        # PostgreSQL 14 refuses these typmods: unconstrained holds the values exactly.
        older = sink_column(field, server_version_num=140011)
        assert (older.staged, older.declared) == (
            "numeric" if field.type == pa.decimal128(5, -2) else "text",
            "numeric",
        )
    for version in (140011, 150000):
        assert sink_column(numeric(12, 2), server_version_num=version).declared == "numeric(12,2)"
        assert sink_column(numeric(12, 0), server_version_num=version).declared == "numeric(12,0)"


def test_a_negative_numeric_scale_is_declared_on_a_server_that_takes_it(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    assert sink.server_version_num() >= 150000  # only PostgreSQL 15+ runs here
    typmod = ((5 << 16) | (-2 & 0x7FF)) + 4
    metadata = {b"POSTGRESQL:type": b"numeric", b"POSTGRESQL:typmod": str(typmod).encode()}
    field = pa.field("v", pa.string(), metadata=metadata)
    rows = pa.table([pa.array(["12300"])], schema=pa.schema([field]))
    _load(sink, TableRef("neg", "negscale"), rows)
    assert column_types(db, "negscale.neg") == {"v": "numeric(5,-2)"}
    assert scalar(db, "SELECT v::text FROM negscale.neg") == "12300"


# ---- (5) MERGE and schema drift ------------------------------------------------------------
def test_merge_upserts_on_the_primary_key(db: psycopg.Connection[Any], sink: PostgresSink) -> None:
    table = TableRef("customers", "merge")
    first = pa.table({"id": pa.array([1, 2, 3], pa.int32()), "name": ["ann", "bob", "cy"]})
    assert _load(sink, table, first, primary_key=("id",)) == 3

    change = pa.table(
        {"id": pa.array([2, 4, 4], pa.int32()), "name": ["bobby", "dee (old)", "dee"]}
    )
    rows = _load(
        sink,
        table,
        change,
        mode=LoadMode.MERGE,
        batch_ids=(2,),
        run_id=2,
        primary_key=("id",),
        dedupe=True,
    )

    assert rows == 4
    assert _live_rows(db, "merge.customers") == [(1, "ann"), (2, "bobby"), (3, "cy"), (4, "dee")]
    assert sink.held_batches(table, "lake/t") == {1, 2}
    assert (
        scalar(
            db,
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'merge.customers'::regclass "
            "AND contype = 'p'",
        )
        == 1
    )


def test_schema_drift_adds_columns_and_widens_types(
    db: psycopg.Connection[Any], sink: PostgresSink
) -> None:
    db.execute("CREATE SCHEMA IF NOT EXISTS drift")
    db.execute("CREATE TABLE drift.t (id smallint PRIMARY KEY, label varchar(3), x real)")
    db.execute("INSERT INTO drift.t VALUES (1, 'abc', 1.5)")
    incoming = pa.table(
        {
            "id": pa.array([70000], pa.int32()),
            "label": ["much longer"],
            "x": pa.array([0.1], pa.float64()),
            "extra": pa.array([Decimal("1.10")], pa.decimal128(5, 2)),
        }
    )
    _load(sink, TableRef("t", "drift"), incoming, mode=LoadMode.APPEND, batch_ids=(2,))
    assert column_types(db, "drift.t") == {
        "id": "integer",
        "label": "text",
        "x": "double precision",
        "extra": "numeric(5,2)",
    }
    assert _live_rows(db, "drift.t")[-1] == (70000, "much longer", 0.1, Decimal("1.10"))

    with pytest.raises(TerminalError, match="incompatible type change"):
        _load(
            sink,
            TableRef("t", "drift"),
            pa.table({"id": ["not a number"]}),
            mode=LoadMode.APPEND,
            batch_ids=(3,),
        )


# ---- (6) errors: clear, classified, and without the password ---------------------------------
def test_missing_table_is_terminal_and_says_where_it_looked(
    db: psycopg.Connection[Any], source: PostgresSource
) -> None:
    db.execute('CREATE SCHEMA sales; CREATE TABLE sales."Orders" (id int)')
    with pytest.raises(TerminalError) as caught:
        source.check(TableRef("orders", "sales"))
    message = str(caught.value)
    assert "'sales.orders' does not exist" in message
    assert "looked in schema 'sales'" in message
    assert "sales.Orders" in message  # the name differs only in case: say so

    looked = r"'nowhere' does not exist .*search_path schemas \(public\)"
    with pytest.raises(TerminalError, match=looked):
        list(source.read(ReadRequest(TableRef("nowhere"))))


@pytest.mark.parametrize(
    ("creds", "error", "words"),
    [
        (
            {"host": HOST, "port": 1, "user": "postgres", "password": PASSWORD, "database": "x"},
            TransientError,
            "Connection refused",
        ),
        (
            {"host": HOST, "user": "no_such_role", "password": PASSWORD, "database": "postgres"},
            TerminalError,
            "no_such_role",
        ),
        (  # libpq quotes this part of the URL back in its message
            {"url": f"postgresql://postgres:{PASSWORD} x@{HOST}:{PORT}/postgres"},
            TerminalError,
            "unexpected spaces",
        ),
    ],
)
def test_connection_errors_are_classified_and_never_show_the_password(
    database: str, creds: dict[str, Any], error: type[StageError], words: str
) -> None:
    model = PostgresCreds.model_validate(creds)
    with pytest.raises(error) as caught:
        PostgresSource(model).ping()
    message = str(caught.value)
    assert words in message
    assert PASSWORD not in message
    assert PASSWORD not in repr(caught.value)
    assert model.location() in message


def test_a_connection_lost_mid_read_is_transient(
    database: str, db: psycopg.Connection[Any], creds: PostgresCreds
) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS big AS "
        "SELECT g AS id, repeat(md5(g::text), 4) AS s FROM generate_series(1, 400000) g"
    )
    source = PostgresSource(creds)
    try:
        reader = source.read(ReadRequest(TableRef("big"), batch_rows=1000))
        next(reader)
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
            "AND application_name = 'sluice' AND pid <> pg_backend_pid()",
            (database,),
        )
        with pytest.raises(TransientError):
            for _ in reader:
                pass
    finally:
        source.close()


def test_ping_names_the_server(source: PostgresSource, sink: PostgresSink, database: str) -> None:
    assert source.ping().startswith("PostgreSQL ")
    assert source.ping().endswith(f" at {HOST}:{PORT}/{database}")
    assert sink.ping() == source.ping()


# ---- creds -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("creds", "message"),
    [
        ({"url": "postgresql://u@h/db", "host": "h"}, "not both"),
        ({"host": "h", "user": "u"}, "missing: 'database'"),
        ({"url": "mysql://u@h/db"}, "must be a PostgreSQL URL"),
        ({"url": "postgresql://u@h/db?sslmode=require", "sslmode": "disable"}, "give it once"),
        ({"host": "h", "user": "u", "database": "d", "sslmode": "maybe"}, "sslmode"),
        ({"host": "h", "user": "u", "database": "d", "port": 0}, "port"),
    ],
)
def test_creds_validation_messages(creds: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_creds("postgres", creds, role="source")


def test_password_and_url_are_secret_in_every_display() -> None:
    shown = redacted_creds(
        "postgres",
        {"host": "h", "user": "u", "password": PASSWORD, "database": "d"},
        role="source",
    )
    assert shown["password"] != PASSWORD and PASSWORD not in repr(shown)
    url = f"postgresql://u:{PASSWORD}@h/d"
    model = validate_creds("postgres", {"url": url}, role="destination")
    assert PASSWORD not in repr(model) and PASSWORD not in str(model.model_dump(mode="json"))
    assert isinstance(model, PostgresCreds) and model.location() == "h/d"


def test_odd_passwords_survive_the_connection_string(database: str) -> None:
    # Trust auth ignores the password, but a badly escaped one breaks libpq's parsing.
    odd = PostgresCreds.model_validate(
        {"host": HOST, "user": "postgres", "password": "it's a \\ pass=word", "database": database}
    )
    source = PostgresSource(odd)
    try:
        assert source.ping().startswith("PostgreSQL")
    finally:
        source.close()
    url = PostgresCreds.model_validate(
        {"url": f"postgresql://postgres:p%40ss%20w@{HOST}:{PORT}/{database}", "sslmode": "disable"}
    )
    sink = PostgresSink(url)
    try:
        assert sink.ping().startswith("PostgreSQL")
    finally:
        sink.close()


def test_registry_does_not_import_the_driver() -> None:
    code = (
        "import sys; from sluice.connectors import registry; "
        "registry.validate_creds('postgres', {'url': 'postgresql://u@h/d'}, role='source'); "
        "assert 'postgres' in registry.source_types() and 'postgres' in registry.sink_types(); "
        "assert not [m for m in sys.modules if m.startswith('adbc')], 'driver imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("kind", "values", "shown"),
    [
        # The driver's own message for the first was `Error occurred writing COPY data:`;
        # the spellings agree with DuckDB's (290309-12-21 (BC) 19:59:05.224197, 5881580-04-03).
        (pa.timestamp("us"), [0, -(2**63) + 5], "'290309-12-21 19:59:05.224197 BC'"),
        (
            pa.timestamp("us", tz="UTC"),
            [0, -210866803200000001],
            "'4714-11-23 23:59:59.999999+00 BC'",
        ),
        (pa.date32(), [0, 2**31 - 100], "'5881580-04-03'"),
        (pa.time64("us"), [0, 25 * 3600 * 10**6], "'25:00:00.000000'"),
    ],
)
def test_a_value_postgresql_cannot_hold_fails_naming_the_column_and_the_row_key(
    sink: PostgresSink,
    db: psycopg.Connection[Any],
    kind: pa.DataType,
    values: list[int],
    shown: str,
) -> None:
    """Checked before COPY sends it: no driver message without a column, no COPY line number."""
    storage = pa.int32() if pa.types.is_date32(kind) else pa.int64()
    batch = pa.record_batch({"id": pa.array([10, 20]), "at": pa.array(values, storage).view(kind)})
    request = LoadRequest(
        table=TableRef("far_out"),
        mode=LoadMode.MERGE,
        schema=batch.schema,
        lake_table="lake/far_out",
        batch_ids=(1,),
        run_id=1,
        primary_key=("id",),
    )
    with pytest.raises(TerminalError) as raised:
        sink.load(request, iter([batch]))
    message = str(raised.value)
    assert "column 'at' of sink table far_out would get" in message
    assert "in the row with id=20" in message and "outside PostgreSQL's range" in message
    assert "nothing was loaded" in message
    assert f"would get {shown} in the row" in message
    assert db.execute("SELECT to_regclass('far_out')").fetchone() == (None,)
