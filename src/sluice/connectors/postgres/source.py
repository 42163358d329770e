"""PostgreSQL source: binary COPY streamed as Arrow, every read in one REPEATABLE READ snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from sluice.connectors.base import ReadRequest, TableInfo
from sluice.connectors.postgres.config import PostgresCreds
from sluice.connectors.postgres.connection import connect, translate
from sluice.connectors.postgres.types import SourceColumn, conform, source_column
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import TerminalError, TransientError
from sluice.core.models import TableRef

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection, Cursor

_RELKINDS = "('r', 'p', 'v', 'm', 'f')"  # tables, partitioned tables, views, matviews, foreign
_PRIMARY_KEY_SQL = (
    "SELECT a.attname FROM pg_index i "
    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    "WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.position"
)


class PostgresSource:
    type_name: ClassVar[str] = "postgres"
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

    def check(self, table: TableRef) -> TableInfo:
        with self._transaction() as cursor:
            columns = self._columns(cursor, table)
            count = int(_fetch(cursor, f"SELECT count(*) FROM {_qualified(table)}")[0][0])
            primary_key = tuple(
                str(row[0]) for row in _fetch(cursor, _PRIMARY_KEY_SQL, (_qualified(table),))
            )
        schema = pa.schema([column.field for column in columns])
        return TableInfo(table=table, schema=schema, row_count=count, primary_key=primary_key)

    def read(self, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        table = request.table
        with self._transaction() as cursor:
            columns = self._columns(cursor, table)
            schema = pa.schema([column.field for column in columns])
            select = ", ".join(column.expression for column in columns)
            sql = f"SELECT {select} FROM {_qualified(table)}"
            key = request.incremental_key
            if key is not None and request.lower_bound is not None:
                key_type = self._key_type(cursor, table, key)
                _fetch(
                    cursor, "SELECT set_config($1, $2, true)",
                    (self.bound_setting, _bound_text(request.lower_bound)),
                )
                column = quote_ident(key)
                fallback = request.fallback_key
                if fallback:
                    column = f"COALESCE({column}, {quote_ident(fallback)})"
                sql += (
                    f" WHERE {column} >= "
                    f"CAST(current_setting('{self.bound_setting}') AS {key_type})"
                )
            cursor.execute(sql)
            reader = cursor.fetch_record_batch()
            try:
                for raw in reader:
                    batch = conform(raw, schema)
                    for offset in range(0, batch.num_rows, request.batch_rows):
                        yield batch.slice(offset, request.batch_rows)
            finally:
                reader.close()

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()

    # ---- catalog ----------------------------------------------------------------------
    def _columns(self, cursor: Cursor, table: TableRef) -> list[SourceColumn]:
        """The SELECT list and Arrow fields, from the driver's own answer to a LIMIT 0 query."""
        found = _fetch(
            cursor, f"SELECT relkind IN {_RELKINDS} FROM pg_class WHERE oid = to_regclass($1)",
            (_qualified(table),),
        )
        if not found or not found[0][0]:
            raise self._missing(cursor, table)
        cursor.execute(f"SELECT * FROM {_qualified(table)} LIMIT 0")
        reader = cursor.fetch_record_batch()
        raw = reader.schema
        reader.close()
        return [source_column(field, quote_ident(field.name)) for field in raw]

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
        there = _fetch(cursor, listing + scope + " ORDER BY 2 LIMIT 21", params)
        message = (
            f"table {str(table)!r} does not exist in PostgreSQL {self.creds.location()} "
            f"(looked in {where})"
        )
        if similar:
            others = ", ".join(f"{schema}.{name}" for schema, name in similar)
            message += f"; tables of that name in any case and schema: {others}"
        names = [str(row[1]) for row in there[:20]] + (["..."] if len(there) > 20 else [])
        return TerminalError(f"{message}; tables there: {', '.join(names) or '(none)'}")


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
