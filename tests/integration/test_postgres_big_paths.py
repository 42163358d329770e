"""The PostgreSQL paths only large tables take, reached with lowered thresholds.

A full read of a table above `split_blocks` is split into ctid ranges read over two
connections sharing one exported snapshot; a load past `split_rows` rows gains a second COPY
connection. Subclasses lower both (class data, as in production), so a 30k-row table takes
them. Rows are compared in full, by PostgreSQL's own text of each row.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import Any, ClassVar, cast

import psycopg
import pyarrow as pa
import pytest

from sluice.connectors.base import LoadRequest, ReadRequest
from sluice.connectors.postgres.config import PostgresCreds
from sluice.connectors.postgres.sink import PostgresSink
from sluice.connectors.postgres.source import PostgresSource
from sluice.core.models import LoadMode, TableRef

pytestmark = pytest.mark.postgres

ROWS = 30_000


class SplitSource(PostgresSource):
    split_blocks: ClassVar[int] = 16  # any table over 128 KiB is read as two block ranges
    batch_bytes: ClassVar[int] = 64 << 10  # small driver batches: the streams stay busy longer


class TwoStreamSink(PostgresSink):
    split_rows: ClassVar[int] = 5_000
    copy_batch_bytes: ClassVar[int] = 64 << 10


@pytest.fixture
def db(pg_database: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_database, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE big (id integer PRIMARY KEY, n bigint, pad text, at timestamptz)"
        )
        connection.execute(
            "INSERT INTO big SELECT g, g * 7, repeat(md5(g::text), 8), "
            "'2024-01-01'::timestamptz + g * interval '1 second' "
            "FROM generate_series(1, %s::int) g",
            (ROWS,),
        )
        connection.execute("ANALYZE big")
        yield connection


@pytest.fixture
def creds(pg_database: str) -> PostgresCreds:
    return PostgresCreds.model_validate({"url": pg_database})


def paced(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches, a few milliseconds apart: on a busy machine the first COPY could
    otherwise drain the stream before the helper connection's thread takes its first batch."""
    for batch in batches:
        yield batch
        time.sleep(0.005)


def rows_text(db: psycopg.Connection[Any], table: str) -> list[str]:
    return [row[0] for row in db.execute(f"SELECT t::text FROM {table} AS t ORDER BY 1")]


def ctid_streams(db: psycopg.Connection[Any]) -> tuple[int, int]:
    """(sessions in a transaction whose query is a split read's range, distinct snapshots
    among them); the server may have sent its whole range already: idle in transaction."""
    row = db.execute(
        "SELECT count(*), count(DISTINCT backend_xmin::text) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND state IN ('active', 'idle in transaction') AND query LIKE '%ctid %::tid%'"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_split_read_sees_one_snapshot_while_a_writer_commits(
    db: psycopg.Connection[Any], creds: PostgresCreds
) -> None:
    blocks = db.execute("SELECT pg_relation_size('big') / 8192").fetchone()
    assert blocks is not None and int(blocks[0]) > 16
    expected = db.execute("SELECT id, n, pad, at FROM big ORDER BY id").fetchall()
    source = SplitSource(creds)
    # read() is a generator (declared an Iterator): close() below runs its cleanup
    reader = cast(
        Generator[pa.RecordBatch, None, None],
        source.read(ReadRequest(TableRef("big"), batch_rows=500)),
    )
    try:
        batches = [next(reader)]
        # Both ranges are read, each on its own connection, in one snapshot (the second
        # may start a moment after the first batch arrives).
        deadline = time.monotonic() + 10
        while ctid_streams(db)[0] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ctid_streams(db) == (2, 1)
        # Committed while both streams are open: updated rows get new versions in other
        # blocks (possibly the other range), deleted and new rows change the count.
        with db.transaction():
            db.execute("UPDATE big SET n = -n, pad = 'changed' WHERE id % 3 = 0")
            db.execute("DELETE FROM big WHERE id % 5 = 0")
            db.execute(
                "INSERT INTO big SELECT g, 0, 'new', now() "
                "FROM generate_series(%s::int, %s::int) g",
                (ROWS + 1, ROWS + 2_000),
            )
        batches.extend(reader)
    finally:
        reader.close()
        source.close()

    got = pa.Table.from_batches(batches).sort_by("id")
    assert got.num_rows == ROWS
    assert [tuple(row.values()) for row in got.to_pylist()] == expected
    assert db.execute("SELECT count(*) FROM big").fetchone() == (ROWS - ROWS // 5 + 2_000,)


def test_a_copy_over_both_big_paths_arrives_exactly_once(
    db: psycopg.Connection[Any], creds: PostgresCreds
) -> None:
    source, sink = SplitSource(creds), TwoStreamSink(creds)
    try:
        info = source.check(TableRef("big"))
        request = LoadRequest(
            table=TableRef("big", "copy"),
            mode=LoadMode.REPLACE,
            schema=info.schema,
            lake_table="lake/big",
            batch_ids=(1,),
            run_id=1,
            primary_key=info.primary_key,
        )
        batches = source.read(ReadRequest(TableRef("big"), batch_rows=1_000))
        result = sink.load(request, paced(batches))
    finally:
        source.close()
        sink.close()

    assert result.rows_loaded == ROWS
    assert rows_text(db, "copy.big") == rows_text(db, "public.big")
    # Each COPY is its own transaction: two transaction ids prove the second connection
    # loaded part of the rows (the direct replace keeps the COPYed rows as they are).
    assert db.execute("SELECT count(DISTINCT xmin::text) FROM copy.big").fetchone() == (2,)


def test_a_deduplicating_merge_over_two_copy_connections_keeps_the_newest(
    db: psycopg.Connection[Any], creds: PostgresCreds
) -> None:
    sink = TwoStreamSink(creds)
    table = TableRef("dedup", "copy")
    schema = pa.schema([("k", pa.int64()), ("v", pa.int64())])
    # Keys 0..9999 come twice, 20000 rows apart: far enough for the two versions to be
    # COPYed over different connections; the later one must win.
    values = list(range(ROWS))
    rows = pa.table({"k": [v % 20_000 for v in values], "v": values}, schema=schema)
    try:
        for run_id, mode in ((1, LoadMode.REPLACE), (2, LoadMode.MERGE)):
            result = sink.load(
                LoadRequest(
                    table=table,
                    mode=mode,
                    schema=schema,
                    lake_table="lake/dedup",
                    batch_ids=(run_id,),
                    run_id=run_id,
                    primary_key=("k",),
                    dedupe=True,
                ),
                iter(rows.to_batches(max_chunksize=1_000)),
            )
            assert result.rows_loaded == ROWS
    finally:
        sink.close()
    got = db.execute("SELECT k, v FROM copy.dedup ORDER BY k").fetchall()
    assert got == [(k, k + 20_000 if k < 10_000 else k) for k in range(20_000)]
