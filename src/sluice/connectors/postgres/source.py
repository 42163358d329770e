"""PostgreSQL source: binary COPY streamed as Arrow, every read in one REPEATABLE READ snapshot."""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager, suppress
from datetime import date, datetime, time
from threading import Event
from typing import TYPE_CHECKING, Any, ClassVar, cast

import pyarrow as pa

from sluice.connectors.base import ReadRequest, SourceRead, TableInfo
from sluice.connectors.postgres.config import PostgresCreds
from sluice.connectors.postgres.connection import close_quietly, connect, translate
from sluice.connectors.postgres.types import (
    DECLARED_TYPE,
    UDT_JSON,
    SourceColumn,
    conform,
    declared_metadata,
    source_column,
)
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import StageError, TerminalError, TransientError
from sluice.core.models import TableRef
from sluice.core.suggest import did_you_mean

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection, Cursor

log = logging.getLogger("sluice.postgres")

_RELKINDS = "('r', 'p', 'v', 'm', 'f')"  # tables, partitioned tables, views, matviews, foreign
_BATCH_BYTES_OPTION = "adbc.postgresql.batch_size_hint_bytes"
_SIZE_SQL = (
    "SELECT relkind, pg_relation_size(oid) / current_setting('block_size')::int, "
    "current_setting('server_version_num')::int, "
    "has_function_privilege('pg_catalog.pg_export_snapshot()', 'EXECUTE') "
    "FROM pg_class WHERE oid = to_regclass($1)"
)
# What pg_export_snapshot() returns, e.g. 00000003-0000001B-1: checked before it is spliced
# into SET TRANSACTION SNAPSHOT, which takes no parameters.
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+-[0-9]+$")
# Each column's declared type as format_type prints it (the driver's schema has no typmod),
# and an enum's name and labels.
# Read as their text too (a domain by its base type `b`): "char", whose binary form of '' is
# a NUL byte no text may hold, and int2vector, numbered from 0 (a list would renumber it).
# The definition of a domain or composite column (of an array's element for an array of one),
# which a PostgreSQL sink declares again (udts.py). A composite, and an array of either, is read
# as its text: PostgreSQL's own record and array text, which it reads back exactly.
_DECLARED_SQL = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), coalesce(el.typname, t.typname), "
    "CASE WHEN coalesce(el.typtype, t.typtype) = 'e' THEN (SELECT coalesce(json_agg("
    "e.enumlabel ORDER BY e.enumsortorder), '[]')::text FROM pg_enum e WHERE e.enumtypid = "
    "coalesce(el.oid, t.oid)) END, "
    "l.local OR b.typname IN ('int2vector', '_int2vector', 'char', '_char') "
    "OR t.typtype = 'c' OR el.typtype IN ('c', 'd'), "
    f"(CASE WHEN l.local THEN NULL WHEN el.oid IS NOT NULL THEN {UDT_JSON.format(t='el')} "
    f"ELSE {UDT_JSON.format(t='t')} END)::text FROM pg_attribute a "
    "JOIN pg_type t ON t.oid = a.atttypid "
    "JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
    "LEFT JOIN pg_type el ON el.oid = t.typelem AND t.typcategory = 'A' "
    "LEFT JOIN pg_type eb ON eb.oid = CASE WHEN el.typtype = 'd' THEN el.typbasetype "
    "ELSE el.oid END "
    # Types of one server, carried as their text (a domain over one too): no binary form,
    # or an oid that means nothing elsewhere (reg*).
    "CROSS JOIN LATERAL (SELECT b.typsend = 0 OR b.typname ~ '^_?reg' "
    "OR coalesce(eb.typsend = 0 OR eb.typname ~ '^reg', false) AS local) l "
    "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum"
)
_PRIMARY_KEY_SQL = (
    "SELECT a.attname FROM pg_index i "
    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    "WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.position"
)


class PostgresSource:
    type_name: ClassVar[str] = "postgres"
    # A full read of a plain table is split into this many block ranges, each read over its
    # own connection in one shared snapshot, so the server's COPY output and the driver's
    # decoding run side by side (about 10% faster on 2 cores: bench/postgres_roundtrip.py).
    read_streams: ClassVar[int] = 2
    # Below this size (8 KiB blocks: 64 MiB) a second connection costs more than it saves.
    split_blocks: ClassVar[int] = 8192
    # The size of the batches the driver builds (its default is 16 MiB): a few of them are
    # in flight per stream, so this bounds the read's memory; smaller costs no speed.
    batch_bytes: ClassVar[int] = 4 << 20
    # Every statement of a read sees one snapshot; READ ONLY lets the server skip SSI bookkeeping.
    snapshot_sql: ClassVar[str] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    # A parameterized query makes ADBC buffer the whole result instead of streaming COPY, so
    # the lower bound is bound into a transaction-local setting that the COPY query reads.
    bound_setting: ClassVar[str] = "sluice.lower_bound"

    def __init__(self, creds: PostgresCreds) -> None:
        self.creds = creds
        self._connection: Connection | None = None

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        import adbc_driver_manager

        if self._connection is None:
            self._connection = connect(self.creds)
        cursor = self._connection.cursor()
        committed = lost = False
        try:
            cursor.execute(self.snapshot_sql)
            yield cursor
            cursor.execute("COMMIT")
            committed = True
        # Errors met while streaming come through pyarrow's reader as OSError/ArrowException.
        except (adbc_driver_manager.Error, pa.ArrowException, OSError) as exc:
            error = translate(exc, self.creds)
            lost = isinstance(error, TransientError)
            raise error from exc
        finally:
            if not committed:
                with suppress(adbc_driver_manager.Error):  # a lost connection rolled back already
                    cursor.execute("ROLLBACK")
            cursor.close()
            if lost:  # the next call starts on a fresh connection
                with suppress(adbc_driver_manager.Error):
                    self.close()

    def ping(self) -> str:
        with self._transaction() as cursor:
            version = str(_fetch(cursor, "SELECT current_setting('server_version')")[0][0])
        return f"PostgreSQL {version.split()[0]} at {self.creds.location()}"

    def check(self, table: TableRef, *, count_rows: bool = True) -> TableInfo:
        with self._transaction() as cursor:
            columns = self._columns(cursor, table)
            count = self._count(cursor, table) if count_rows else None
            primary_key = tuple(
                str(row[0]) for row in _fetch(cursor, _PRIMARY_KEY_SQL, (_qualified(table),))
            )
        schema = pa.schema([column.field for column in columns])
        return TableInfo(table=table, schema=schema, row_count=count, primary_key=primary_key)

    def read(self, request: ReadRequest) -> SourceRead:
        return SourceRead(self._read(request))

    def _read(self, request: ReadRequest) -> Generator[pa.RecordBatch, None, int | None]:
        table = request.table
        with self._transaction() as cursor:
            columns = self._columns(cursor, table)
            # The transaction's first statement fixed the snapshot: this count and every
            # stream below (helpers import the same snapshot) see exactly the same rows.
            counted = self._count(cursor, table) if request.count_rows else None
            schema = pa.schema([column.field for column in columns])
            select = ", ".join(column.expression for column in columns)
            sql = f"SELECT {select} FROM {_qualified(table)}"
            key = request.incremental_key
            if key is not None and request.lower_bound is not None:
                wheres = [self._lower_bound(cursor, request, key)]
            else:
                wheres = self._block_ranges(cursor, table)
            guard = array_guard(table, columns)
            queries = [sql + _and(where, guard) for where in wheres]
            with self._snapshot_sharing(cursor, len(queries)) as cursors:
                if len(cursors) < len(queries):
                    queries = [sql + _and("", guard)]  # no helpers: one stream reads it all
                streams = [
                    _stream(each, query, schema, request.batch_rows, self.batch_bytes)
                    for each, query in zip(cursors, queries, strict=True)
                ]
                yield from _merged(streams, depth=2 * len(streams))
        return counted

    def _count(self, cursor: Cursor, table: TableRef) -> int:
        return int(_fetch(cursor, f"SELECT count(*) FROM {_qualified(table)}")[0][0])

    def _lower_bound(self, cursor: Cursor, request: ReadRequest, key: str) -> str:
        key_type = self._key_type(cursor, request.table, key)
        _fetch(
            cursor,
            "SELECT set_config($1, $2, true)",
            (self.bound_setting, _bound_text(request.lower_bound)),
        )
        column = quote_ident(key)
        if request.fallback_key:
            column = f"COALESCE({column}, {quote_ident(request.fallback_key)})"
        return f" WHERE {column} >= CAST(current_setting('{self.bound_setting}') AS {key_type})"

    def _block_ranges(self, cursor: Cursor, table: TableRef) -> list[str]:
        """WHERE clauses splitting a plain table into block ranges, one per stream.

        Every row version the snapshot sees lives in exactly one block, so the ranges hold
        each row once; the last range is open-ended, so nothing past the measured size is
        lost. Views, partitioned and foreign tables (no usable ctid), servers before 14 (no
        TID range scan: each stream would read the whole table) and small tables get one.
        """
        if self.read_streams < 2:
            return [""]
        kind, blocks, version, exportable = _fetch(cursor, _SIZE_SQL, (_qualified(table),))[0]
        if (
            kind not in ("r", "m")
            or int(version) < 140000
            or int(blocks) < self.split_blocks
            or not exportable
        ):
            return [""]
        edges = [int(blocks) * i // self.read_streams for i in range(1, self.read_streams)]
        lows: list[int | None] = [None, *edges]
        highs: list[int | None] = [*edges, None]
        return [_ctid_range(low, high) for low, high in zip(lows, highs, strict=True)]

    @contextmanager
    def _snapshot_sharing(self, cursor: Cursor, count: int) -> Iterator[list[Cursor]]:
        """`count` cursors that all see the snapshot of `cursor`'s open transaction.

        The first is `cursor` itself; the others are fresh connections that import its
        exported snapshot, so a read split over them is still one consistent read. Splitting
        is only an optimisation: if a helper cannot connect or import the snapshot
        (connection limit, a pooler in between), this yields `cursor` alone.
        """
        import adbc_driver_manager

        if count == 1:
            yield [cursor]
            return
        snapshot = str(_fetch(cursor, "SELECT pg_export_snapshot()")[0][0])
        if not _SNAPSHOT_ID.match(snapshot):
            raise TerminalError(f"PostgreSQL exported an unexpected snapshot id {snapshot!r}")
        helpers: list[tuple[Connection, Cursor]] = []
        try:
            try:
                for _ in range(count - 1):
                    helpers.append(self._helper(snapshot))
            except (StageError, adbc_driver_manager.Error) as exc:
                reason = exc if isinstance(exc, StageError) else translate(exc, self.creds)
                log.warning("reading on one connection: %s", reason)
                for connection, helper in helpers:
                    close_quietly(connection, helper)
                helpers = []
            yield [cursor, *(helper for _, helper in helpers)]
        finally:
            for connection, helper in helpers:
                close_quietly(connection, helper)

    def _helper(self, snapshot: str) -> tuple[Connection, Cursor]:
        connection = connect(self.creds)
        helper = connection.cursor()
        try:
            helper.execute(self.snapshot_sql)
            helper.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        except BaseException:
            close_quietly(connection, helper)
            raise
        return connection, helper

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()

    # ---- catalog ----------------------------------------------------------------------
    def _columns(self, cursor: Cursor, table: TableRef) -> list[SourceColumn]:
        """The SELECT list and Arrow fields, from the driver's own answer to a LIMIT 0 query,
        each field carrying its column's declared type in its metadata."""
        found = _fetch(
            cursor,
            f"SELECT relkind IN {_RELKINDS} FROM pg_class WHERE oid = to_regclass($1)",
            (_qualified(table),),
        )
        if not found or not found[0][0]:
            raise self._missing(cursor, table)
        catalog = _fetch(cursor, _DECLARED_SQL, (_qualified(table),))
        declared = {
            str(name): declared_metadata(
                str(pg_type),
                None if labels is None else (str(typname), json.loads(labels)),
                None if udt is None else str(udt),
            )
            for name, pg_type, typname, labels, _, udt in catalog
        }
        # Read as their text: types with no binary form to COPY (aclitem, gtsvector, ...),
        # and the reg* types, whose binary form is an oid that means nothing elsewhere.
        as_text = {str(row[0]) for row in catalog if row[4]}
        listed = ", ".join(
            f"{quote_ident(str(row[0]))}::text AS {quote_ident(str(row[0]))}"
            if str(row[0]) in as_text
            else quote_ident(str(row[0]))
            for row in catalog
        )
        cursor.execute(f"SELECT {listed or '*'} FROM {_qualified(table)} LIMIT 0")
        reader = cursor.fetch_record_batch()
        raw = reader.schema
        reader.close()
        return [
            _with_metadata(
                _text_numeric(
                    _as_text(field)
                    if field.name in as_text
                    else source_column(field, quote_ident(field.name)),
                    field,
                ),
                declared.get(field.name, {}),
            )
            for field in raw
        ]

    def _key_type(self, cursor: Cursor, table: TableRef, key: str) -> str:
        rows = _fetch(
            cursor,
            "SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = "
            "to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped",
            (_qualified(table), key),
        )
        if not rows:
            raise TerminalError(f"incremental key {key!r} is not a column of {table}")
        return str(rows[0][0])  # format_type quotes whatever needs quoting

    def _missing(self, cursor: Cursor, table: TableRef) -> TerminalError:
        params: tuple[str, ...] = ()
        if table.schema:
            where, scope, params = f"schema {table.schema!r}", "n.nspname = $1", (table.schema,)
        else:
            schemas = _fetch(cursor, "SELECT array_to_string(current_schemas(false), ', ')")
            where = f"the search_path schemas ({schemas[0][0] or 'none'})"
            scope = "n.nspname = ANY(current_schemas(false))"
        listing = (
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
            f"ON n.oid = c.relnamespace WHERE c.relkind IN {_RELKINDS} AND "
        )
        similar = _fetch(
            cursor, listing + "lower(c.relname) = lower($1) ORDER BY 1, 2 LIMIT 5", (table.name,)
        )
        # All of them, for the suggestion; only the first 20 are listed.
        there = _fetch(cursor, listing + scope + " ORDER BY 2", params)
        message = (
            f"table {str(table)!r} does not exist in PostgreSQL {self.creds.location()} "
            f"(looked in {where})"
        )
        if similar:
            others = ", ".join(f"{schema}.{name}" for schema, name in similar)
            message += f"; tables of that name in any case and schema: {others}"
        names = [str(row[1]) for row in there[:20]] + (["..."] if len(there) > 20 else [])
        hint = did_you_mean(table.name, [str(row[1]) for row in there])
        return TerminalError(f"{message}{hint}; tables there: {', '.join(names) or '(none)'}")


def _stream(
    cursor: Cursor, sql: str, schema: pa.Schema, batch_rows: int, batch_bytes: int
) -> Iterator[pa.RecordBatch]:
    """One COPY query's rows, in the planned schema, in slices of at most `batch_rows`."""
    cursor.adbc_statement.set_options(**{_BATCH_BYTES_OPTION: str(batch_bytes)})
    cursor.execute(sql)
    reader = cursor.fetch_record_batch()
    try:
        for raw in reader:
            batch = conform(raw, schema)
            for offset in range(0, batch.num_rows, batch_rows):
                yield batch.slice(offset, batch_rows)
    finally:
        reader.close()


_DONE = object()


def _merged(streams: list[Iterator[pa.RecordBatch]], depth: int) -> Iterator[pa.RecordBatch]:
    """The batches of several streams, each drained on its own thread, in arrival order.

    The driver and pyarrow release the GIL while they decode, so the streams (and whatever
    consumes them) use all cores. The queue is bounded: memory holds a few batches whatever
    the table's size. A stream's error is raised here, in the consumer; when the consumer
    stops early, the threads stop at their next batch and close their streams.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    threads = [
        threading.Thread(target=_pump, args=(stream, handoff, stop), daemon=True)
        for stream in streams
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            item = handoff.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield cast(pa.RecordBatch, item)
    finally:
        stop.set()
        for thread in threads:
            while thread.is_alive():  # a producer may be waiting for room in the queue
                with suppress(queue.Empty):
                    handoff.get_nowait()
                thread.join(0.05)


def _pump(stream: Iterator[pa.RecordBatch], handoff: queue.Queue[object], stop: Event) -> None:
    with closing(cast(Generator[pa.RecordBatch, None, None], stream)) as batches:
        try:
            for batch in batches:
                if not _offer(handoff, batch, stop):
                    return
        # Not swallowed: handed over to the consumer's thread, which raises it.
        except BaseException as exc:  # noqa: BLE001
            _offer(handoff, exc, stop)
            return
    _offer(handoff, _DONE, stop)


def _offer(handoff: queue.Queue[object], item: object, stop: Event) -> bool:
    """Put `item`, waiting for room; False once the consumer has stopped."""
    while not stop.is_set():
        with suppress(queue.Full):
            handoff.put(item, timeout=0.1)
            return True
    return False


def _text_numeric(column: SourceColumn, raw: pa.Field) -> SourceColumn:
    """Numeric is selected as text: PostgreSQL prints it about three times faster than the
    driver decodes the binary form, and `conform` casts the text to the same decimal128 (or
    keeps it, for numerics too wide for one) exactly, NaN refused as before."""
    kind = raw.type
    plain = column.expression == quote_ident(raw.name)
    if plain and isinstance(kind, pa.OpaqueType) and kind.type_name == "numeric":
        return SourceColumn(f"{column.expression}::text AS {column.expression}", column.field)
    return column


def _with_metadata(column: SourceColumn, extra: dict[bytes, bytes]) -> SourceColumn:
    field = column.field
    return SourceColumn(column.expression, field.with_metadata({**(field.metadata or {}), **extra}))


# Arrow lists have one dimension and start at index 0: a PostgreSQL array with more
# dimensions would arrive flattened, and one with another lower bound without it. Rather than
# scan for such values first, every read carries a guard that makes PostgreSQL itself stop the
# read at the first one, with a message sluice recognises (ARRAY_GUARD) and completes.
ARRAY_GUARD = "sluice-array-guard::"


def array_guard(table: TableRef, columns: list[SourceColumn]) -> str:
    """A WHERE condition that is true for every row, and fails the read on an array value
    Arrow cannot hold exactly (more than one dimension, or a lower bound other than 1)."""
    checks = []
    for column in columns:
        if not pa.types.is_list(column.field.type) and not pa.types.is_large_list(
            column.field.type
        ):
            continue
        name = quote_ident(column.field.name)
        declared = (column.field.metadata or {}).get(DECLARED_TYPE, b"array").decode()
        said = f"{ARRAY_GUARD}{table}::{column.field.name}::{declared}::"
        literal = "'" + said.replace("'", "''") + "'"
        # The cast of a row-dependent text to integer raises "invalid input syntax for type
        # integer: <text>" on that row only (a constant would fail when the plan is made).
        checks.append(
            f"(CASE WHEN array_ndims({name}) > 1 OR array_lower({name}, 1) <> 1 "
            f"THEN CAST({literal} || array_ndims({name}) || '::' || array_lower({name}, 1) "
            "AS integer) ELSE 1 END) = 1"
        )
    return " AND ".join(checks)


def _and(where: str, condition: str) -> str:
    if not condition:
        return where
    return f"{where} AND {condition}" if where else f" WHERE {condition}"


def _as_text(field: pa.Field) -> SourceColumn:
    quoted = quote_ident(field.name)
    return SourceColumn(f"{quoted}::text AS {quoted}", field.with_type(pa.string()))


def _ctid_range(low: int | None, high: int | None) -> str:
    bounds = []
    if low is not None:
        bounds.append(f"ctid >= '({low},0)'::tid")
    if high is not None:
        bounds.append(f"ctid < '({high},0)'::tid")
    return " WHERE " + " AND ".join(bounds)


def _qualified(table: TableRef) -> str:
    name = quote_ident(table.name)
    return f"{quote_ident(table.schema)}.{name}" if table.schema else name


def _fetch(cursor: Cursor, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    cursor.execute(sql, params or None)
    return [tuple(row) for row in cursor.fetchall()]


def _bound_text(value: Any) -> str:
    """The bound in PostgreSQL's input syntax; the query casts it to the key's own type."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)
