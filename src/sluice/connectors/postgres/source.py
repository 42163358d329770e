"""PostgreSQL source: binary COPY streamed as Arrow, every read in one REPEATABLE READ snapshot."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Generator, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, ClassVar

import pyarrow as pa

from sluice.connectors.base import ReadRequest, SourceRead, TableInfo
from sluice.connectors.discovery import CatalogTable
from sluice.connectors.postgres.config import PostgresCreds
from sluice.connectors.postgres.connection import close_quietly, connect, translate
from sluice.connectors.postgres.connection import fetch as _fetch
from sluice.connectors.postgres.discover import discover
from sluice.connectors.postgres.missing import RELKINDS, missing_table
from sluice.connectors.postgres.partitions import PartitionedReads
from sluice.connectors.postgres.reading import (
    DECLARED_SQL,
    PRIMARY_KEY_SQL,
    SourceColumn,
    and_where,
    array_guard,
    as_text,
    bound_text,
    ctid_range,
    source_column,
    text_numeric,
    with_metadata,
)
from sluice.connectors.postgres.streams import merged, stream
from sluice.connectors.postgres.types import declared_metadata
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import StageError, TerminalError, TransientError
from sluice.core.models import TableRef

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection, Cursor

log = logging.getLogger("sluice.postgres")

_SIZE_SQL = (
    "SELECT relkind, pg_relation_size(oid) / current_setting('block_size')::int, "
    "current_setting('server_version_num')::int, "
    "has_function_privilege('pg_catalog.pg_export_snapshot()', 'EXECUTE') "
    "FROM pg_class WHERE oid = to_regclass($1)"
)
# What pg_export_snapshot() returns, e.g. 00000003-0000001B-1: checked before it is spliced
# into SET TRANSACTION SNAPSHOT, which takes no parameters.
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+-[0-9]+$")


class PostgresSource(PartitionedReads):
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

    def discover(self, schema: str | None) -> list[CatalogTable]:
        with self._transaction() as cursor:
            return discover(cursor, schema)

    def check(self, table: TableRef, *, count_rows: bool = True) -> TableInfo:
        with self._transaction() as cursor:
            columns = self._columns(cursor, table)
            count = self._count(cursor, table) if count_rows else None
            primary_key = tuple(
                str(row[0]) for row in _fetch(cursor, PRIMARY_KEY_SQL, (_qualified(table),))
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
            queries = [sql + and_where(where, guard) for where in wheres]
            with self._snapshot_sharing(cursor, len(queries)) as cursors:
                if len(cursors) < len(queries):
                    queries = [sql + and_where("", guard)]  # no helpers: one stream reads it all
                streams = [
                    stream(each, query, schema, request.batch_rows, self.batch_bytes)
                    for each, query in zip(cursors, queries, strict=True)
                ]
                yield from merged(streams, depth=2 * len(streams))
        return counted

    def _count(self, cursor: Cursor, table: TableRef) -> int:
        return int(_fetch(cursor, f"SELECT count(*) FROM {_qualified(table)}")[0][0])

    def _lower_bound(self, cursor: Cursor, request: ReadRequest, key: str) -> str:
        key_type = self._key_type(cursor, request.table, key)
        _fetch(
            cursor,
            "SELECT set_config($1, $2, true)",
            (self.bound_setting, bound_text(request.lower_bound)),
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
        return [ctid_range(low, high) for low, high in zip(lows, highs, strict=True)]

    @contextmanager
    def _snapshot_sharing(self, cursor: Cursor, count: int) -> Iterator[list[Cursor]]:
        """`count` cursors that all see the snapshot of `cursor`'s open transaction: itself,
        and fresh connections that import its snapshot, so a read split over them is still one
        consistent read. Only an optimisation: if a helper cannot connect or import the
        snapshot (connection limit, a pooler in between), this yields `cursor` alone."""
        import adbc_driver_manager

        if count == 1:
            yield [cursor]
            return
        snapshot = export_snapshot(cursor)
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
            f"SELECT relkind IN {RELKINDS} FROM pg_class WHERE oid = to_regclass($1)",
            (_qualified(table),),
        )
        if not found or not found[0][0]:
            raise missing_table(cursor, table, self.creds.location())
        catalog = _fetch(cursor, DECLARED_SQL, (_qualified(table),))
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
        read_as_text = {str(row[0]) for row in catalog if row[4]}
        listed = ", ".join(
            f"{quote_ident(str(row[0]))}::text AS {quote_ident(str(row[0]))}"
            if str(row[0]) in read_as_text
            else quote_ident(str(row[0]))
            for row in catalog
        )
        cursor.execute(f"SELECT {listed or '*'} FROM {_qualified(table)} LIMIT 0")
        reader = cursor.fetch_record_batch()
        raw = reader.schema
        reader.close()
        return [
            with_metadata(
                text_numeric(
                    as_text(field)
                    if field.name in read_as_text
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


def export_snapshot(cursor: Cursor) -> str:
    """The open transaction's snapshot, for other connections to import."""
    snapshot = str(_fetch(cursor, "SELECT pg_export_snapshot()")[0][0])
    if not _SNAPSHOT_ID.match(snapshot):
        raise TerminalError(f"PostgreSQL exported an unexpected snapshot id {snapshot!r}")
    return snapshot


def _qualified(table: TableRef) -> str:
    name = quote_ident(table.name)
    return f"{quote_ident(table.schema)}.{name}" if table.schema else name
