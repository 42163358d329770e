"""PostgreSQL sink: binary COPY (ADBC) into an unlogged staging table, then the shared SQL steps.

The staging table is created with the exact column types first (ADBC's own "create" would
declare decimals as bare numeric and JSON as json), and the COPY appends into it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from sluice.connectors.base import LoadRequest, SinkCapabilities
from sluice.connectors.postgres.config import PostgresCreds
from sluice.connectors.postgres.connection import connect, number_params, translate
from sluice.connectors.postgres.types import sink_column, to_wire
from sluice.connectors.sqlquote import quote_ident
from sluice.connectors.sqlsink import SqlSinkBase
from sluice.core.errors import StageError
from sluice.core.models import TableRef

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection, Cursor

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

    def bulk_stage(
        self, staging: TableRef, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
    ) -> int:
        import adbc_driver_manager

        columns = [sink_column(field) for field in schema]
        wire_schema = pa.schema([pa.field(column.name, column.wire) for column in columns])
        if staging.schema:
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(staging.schema)}")
        # Unlogged: the staging rows are copied once more into the final table, so WAL for
        # them would only be written to be thrown away.
        definition = ", ".join(f"{quote_ident(c.name)} {c.staged}" for c in columns)
        self.execute(f"CREATE UNLOGGED TABLE {self.qualified(staging)} ({definition})")
        rows = 0
        failure: BaseException | None = None

        def wire_batches() -> Iterator[pa.RecordBatch]:
            nonlocal rows, failure
            try:
                for batch in batches:
                    rows += batch.num_rows
                    yield to_wire(batch, columns, wire_schema)
            except BaseException as exc:
                failure = exc  # the driver would only pass on its text
                raise

        reader = pa.RecordBatchReader.from_batches(wire_schema, wire_batches())
        try:
            try:
                self._cursor.adbc_ingest(
                    staging.name, reader, mode="append", db_schema_name=staging.schema
                )
            except adbc_driver_manager.Error as exc:
                if failure is not None:
                    raise failure from exc
                raise translate(exc, self.creds) from exc
            for column in columns:
                if column.declared != column.staged:
                    name = quote_ident(column.name)
                    self.execute(
                        f"ALTER TABLE {self.qualified(staging)} ALTER COLUMN {name} "
                        f"TYPE {column.declared} USING {name}::{column.declared}"
                    )
        except BaseException:
            # The shared load only cleans up after the apply step; staging is ours to drop.
            with suppress(StageError):
                self.execute(f"DROP TABLE IF EXISTS {self.qualified(staging)}")
            raise
        return rows

    def _replace(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> None:
        super()._replace(request, staging, columns, types)
        # The primary key index was named after the table built beside the live one; with
        # the live table gone (same transaction) it can take the usual name.
        rows = self.query(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(?) AND contype = 'p'",
            (self.qualified(request.table),),
        )
        if rows:
            self.execute(
                f"ALTER TABLE {self.qualified(request.table)} RENAME CONSTRAINT "
                f"{quote_ident(str(rows[0][0]))} TO {quote_ident(_pkey_name(request.table.name))}"
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


def _pkey_name(table: str) -> str:
    """PostgreSQL's own default, `<table>_pkey`, cut to the identifier limit in bytes."""
    suffix = "_pkey"
    head = table.encode()[: _MAX_IDENTIFIER_BYTES - len(suffix)].decode(errors="ignore")
    return head + suffix
