"""PostgreSQL sink: binary COPY (ADBC) into a table created with the exact column types.

ADBC's own "create" would declare decimals as bare numeric and JSON as json, so the table is
created first and the COPY appends into it. A replace that needs no deduplication COPYs
straight into the new table beside the live one and swaps it in; merges, appends and
deduplicating replaces COPY into an unlogged staging table and apply the shared SQL steps.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from sluice.connectors.base import LoadRequest, LoadResult, SinkCapabilities
from sluice.connectors.postgres.config import PostgresCreds
from sluice.connectors.postgres.connection import close_quietly, connect, number_params, translate
from sluice.connectors.postgres.types import SinkColumn, sink_column, to_wire
from sluice.connectors.sqlquote import quote_ident
from sluice.connectors.sqlsink import STATE_TABLE, SqlSinkBase
from sluice.core.errors import StageError
from sluice.core.models import LoadMode, TableRef

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection, Cursor

log = logging.getLogger("sluice.postgres")

_VARCHAR = re.compile(r"^CHARACTER VARYING\(\d+\)$")
_MAX_IDENTIFIER_BYTES = 63


class PostgresSink(SqlSinkBase):
    type_name: ClassVar[str] = "postgres"
    capabilities: ClassVar[SinkCapabilities] = SinkCapabilities(
        max_identifier_length=_MAX_IDENTIFIER_BYTES, supports_schemas=True
    )
    # Spelled as format_type() spells them; varchar(n) is normalized to CHARACTER VARYING.
    widenings: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("SMALLINT", "INTEGER"), ("SMALLINT", "BIGINT"), ("INTEGER", "BIGINT"),
            ("REAL", "DOUBLE PRECISION"), ("CHARACTER VARYING", "TEXT"),
        }
    )
    # The shared steps write `?`; libpq numbers its parameters.
    param_marker: ClassVar[str] = "${}"
    # A load COPYs over this many connections once it has sent `split_rows` rows (small
    # loads stay on one), in pieces of about `copy_batch_bytes`: see _ParallelCopy.
    copy_streams: ClassVar[int] = 2
    split_rows: ClassVar[int] = 200_000
    copy_batch_bytes: ClassVar[int] = 4 << 20

    def __init__(self, creds: PostgresCreds) -> None:
        self.creds = creds
        self._connection: Connection = connect(creds)
        self._cursor: Cursor = self._connection.cursor()

    def _run(self, sql: str, params: tuple[Any, ...]) -> None:
        import adbc_driver_manager

        try:
            if params:
                self._cursor.execute(number_params(sql, self.param_marker), params)
            else:
                self._cursor.execute(sql)
        except adbc_driver_manager.Error as exc:
            raise translate(exc, self.creds) from exc

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self._run(sql, params)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self._run(sql, params)
        return [tuple(row) for row in self._cursor.fetchall()]

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        import adbc_driver_manager

        with suppress(adbc_driver_manager.Error):  # nothing open, or the connection is gone
            self._cursor.execute("ROLLBACK")

    def ping(self) -> str:
        version = str(self.query("SELECT current_setting('server_version')")[0][0])
        return f"PostgreSQL {version.split()[0]} at {self.creds.location()}"

    def table_columns(self, table: TableRef) -> dict[str, str] | None:
        # The catalog, not information_schema: format_type keeps numeric(p,s) and varchar(n),
        # and to_regclass resolves an unqualified name by search_path exactly as SQL does.
        rows = self.query(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped "
            "ORDER BY attnum",
            (self.qualified(table),),
        )
        return {str(name): str(kind) for name, kind in rows} if rows else None

    def _normal_type(self, declared: str) -> str:
        return _VARCHAR.sub("CHARACTER VARYING", super()._normal_type(declared))

    def load(self, request: LoadRequest, batches: Iterable[pa.RecordBatch]) -> LoadResult:
        if request.mode is LoadMode.REPLACE and not request.dedupe:
            return self._replace_directly(request, iter(batches))
        return super().load(request, batches)

    def _replace_directly(
        self, request: LoadRequest, batches: Iterator[pa.RecordBatch]
    ) -> LoadResult:
        """A replace that needs no deduplication: COPY straight into the new table.

        The shared path stages the rows and copies them again into the new table; here they
        are written once, into the table built beside the live one, and its primary key is
        built afterwards (one sort is cheaper than maintaining the index row by row). Then
        one transaction drops the live table, renames the new one into its place and records
        the lake batches: readers see the old table or the new one, never neither.
        """
        self.ensure_state_table()
        fresh = self.sibling(request.table, "__sluice_new_", request.run_id)
        self.execute(f"DROP TABLE IF EXISTS {self.qualified(fresh)}")
        rows = self._create_and_copy(fresh, request.schema, batches, unlogged=False)
        try:
            if request.primary_key:
                keys = ", ".join(quote_ident(c) for c in request.primary_key)
                self.execute(f"ALTER TABLE {self.qualified(fresh)} ADD PRIMARY KEY ({keys})")
            self.begin()
            try:
                self._swap_in(request, fresh)
                self._record_batches(request)
                self.commit()
            except BaseException:
                self.rollback()
                raise
        except BaseException:
            with suppress(StageError):
                self.execute(f"DROP TABLE IF EXISTS {self.qualified(fresh)}")
            raise
        return LoadResult(rows_loaded=rows, rows_in_table=rows)

    def _swap_in(self, request: LoadRequest, fresh: TableRef) -> None:
        self.execute(f"DROP TABLE IF EXISTS {self.qualified(request.table)}")
        self.execute(
            f"ALTER TABLE {self.qualified(fresh)} RENAME TO {quote_ident(request.table.name)}"
        )
        self._rename_primary_key(request.table)
        self.execute(
            f"DELETE FROM {quote_ident(STATE_TABLE)} WHERE sink_table = ?", (str(request.table),)
        )

    def bulk_stage(
        self, staging: TableRef, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
    ) -> int:
        # Unlogged: the staging rows are copied once more into the final table, so WAL for
        # them would only be written to be thrown away.
        return self._create_and_copy(staging, schema, batches, unlogged=True)

    def _create_and_copy(
        self, table: TableRef, schema: pa.Schema, batches: Iterator[pa.RecordBatch], *,
        unlogged: bool,
    ) -> int:
        """Create `table` for `schema` and fill it by binary COPY; dropped again on failure."""
        columns = [sink_column(field) for field in schema]
        if table.schema:
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(table.schema)}")
        definition = ", ".join(f"{quote_ident(c.name)} {c.staged}" for c in columns)
        kind = "UNLOGGED TABLE" if unlogged else "TABLE"
        self.execute(f"CREATE {kind} {self.qualified(table)} ({definition})")
        try:
            rows = _ParallelCopy(self, table, columns, batches).run(self._cursor)
            self._retype(table, columns)
        except BaseException:
            # The shared load only cleans up after the apply step; this table is ours to drop.
            with suppress(StageError):
                self.execute(f"DROP TABLE IF EXISTS {self.qualified(table)}")
            raise
        return rows

    def _retype(self, table: TableRef, columns: list[SinkColumn]) -> None:
        """Text loaded for a richer type becomes that type: one ALTER, so one table rewrite."""
        changes = [
            f"ALTER COLUMN {quote_ident(c.name)} TYPE {c.declared} "
            f"USING {quote_ident(c.name)}::{c.declared}"
            for c in columns
            if c.declared != c.staged
        ]
        if changes:
            self.execute(f"ALTER TABLE {self.qualified(table)} {', '.join(changes)}")

    def _replace(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> None:
        super()._replace(request, staging, columns, types)
        self._rename_primary_key(request.table)

    def _rename_primary_key(self, table: TableRef) -> None:
        # The primary key index was named after the table built beside the live one; with
        # the live table gone (same transaction) it can take the usual name.
        rows = self.query(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(?) AND contype = 'p'",
            (self.qualified(table),),
        )
        if rows:
            self.execute(
                f"ALTER TABLE {self.qualified(table)} RENAME CONSTRAINT "
                f"{quote_ident(str(rows[0][0]))} TO {quote_ident(_pkey_name(table.name))}"
            )

    def alter_column_type(self, table: TableRef, column: str, new_type: str) -> str:
        self.execute(
            f"ALTER TABLE {self.qualified(table)} ALTER COLUMN {quote_ident(column)} "
            f"TYPE {new_type}"
        )
        return new_type

    def close(self) -> None:
        self._cursor.close()
        self._connection.close()


class _ParallelCopy:
    """One stream of batches COPYed into `table`, over more than one connection when large.

    The driver encodes a batch, then waits while the server parses it, so one COPY keeps
    only one side busy at a time. Once `split_rows` rows have gone and more follow, helper
    connections join, each taking the next batch of the same stream: encoding and parsing
    then overlap. A helper that cannot connect is skipped. The first failure stops every
    stream; the caller drops the half-filled table.
    """

    def __init__(
        self,
        sink: PostgresSink,
        table: TableRef,
        columns: list[SinkColumn],
        batches: Iterator[pa.RecordBatch],
    ) -> None:
        self.creds = sink.creds
        self.table = table
        self.columns = columns
        self.wire_schema = pa.schema([pa.field(c.name, c.wire) for c in columns])
        self.helpers_wanted = sink.copy_streams - 1
        self.split_rows = sink.split_rows
        self.piece_bytes = sink.copy_batch_bytes
        self.rows = 0
        self._batches = batches
        self._lock = threading.Lock()
        self._ended = False
        self._grown = False
        self._failure: BaseException | None = None  # raised as is: the driver keeps only text
        self._errors: list[BaseException] = []
        self._helpers: list[tuple[Connection, Cursor, threading.Thread]] = []

    def run(self, cursor: Cursor) -> int:
        """COPY everything, starting on `cursor`; the rows loaded."""
        import adbc_driver_manager

        try:
            self._ingest(cursor)
        except adbc_driver_manager.Error as exc:
            self._errors.insert(0, exc)
        finally:
            self._ended = True
            for connection, helper, thread in self._helpers:
                thread.join()
                close_quietly(connection, helper)
        if self._failure is not None:
            raise self._failure from (self._errors[0] if self._errors else None)
        if self._errors:
            raise translate(self._errors[0], self.creds) from self._errors[0]
        return self.rows

    def _ingest(self, cursor: Cursor) -> None:
        reader = pa.RecordBatchReader.from_batches(self.wire_schema, self._take())
        cursor.adbc_ingest(
            self.table.name, reader, mode="append", db_schema_name=self.table.schema
        )

    def _take(self) -> Iterator[pa.RecordBatch]:
        """Batches for one COPY: the next of the shared stream each time, until it ends."""
        while True:
            try:
                with self._lock:
                    batch = None if self._ended else next(self._batches, None)
                    if batch is None:
                        self._ended = True
                        return
                    self.rows += batch.num_rows
                    grow = not self._grown and self.rows >= self.split_rows
                    self._grown = self._grown or grow
                if grow:
                    self._add_helpers()
                wire = to_wire(batch, self.columns, self.wire_schema)
            except BaseException as exc:
                self._failure = self._failure or exc
                self._ended = True
                raise
            yield from _slices(wire, self.piece_bytes)

    def _add_helpers(self) -> None:
        for _ in range(self.helpers_wanted):
            try:
                connection = connect(self.creds)
            except StageError as exc:
                log.warning("loading on fewer connections: %s", exc)
                return
            cursor = connection.cursor()
            thread = threading.Thread(target=self._helper, args=(cursor,), daemon=True)
            self._helpers.append((connection, cursor, thread))
            thread.start()

    def _helper(self, cursor: Cursor) -> None:
        # Not swallowed: run() raises it, on the caller's thread.
        try:
            self._ingest(cursor)
        except BaseException as exc:  # noqa: BLE001
            self._errors.append(exc)
            self._ended = True


def _slices(batch: pa.RecordBatch, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """`batch` in pieces of about `max_bytes`: the driver buffers the encoded form of what it
    is handed, so smaller pieces keep a COPY's memory small (4 MiB pieces load as fast)."""
    rows = max(1, batch.num_rows * max_bytes // max(batch.nbytes, 1))
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)


def _pkey_name(table: str) -> str:
    """PostgreSQL's own default, `<table>_pkey`, cut to the identifier limit in bytes."""
    suffix = "_pkey"
    head = table.encode()[: _MAX_IDENTIFIER_BYTES - len(suffix)].decode(errors="ignore")
    return head + suffix
