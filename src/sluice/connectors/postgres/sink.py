"""PostgreSQL sink: binary COPY (ADBC) into a table created with the exact column types.

A replace hands the new table the old one's owner, privileges and comments in the swap's
transaction (replace.py). Columns a PostgreSQL source read from varchar(n), char(n), an enum,
a domain or a composite type are declared so again (types.py, enums.py, udts.py); column
types widen as the source's do (evolve.py); the COPY itself runs over two connections for
large loads (copy.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from sluice.connectors.base import LoadRequest, LoadResult
from sluice.connectors.dialect import Dialect
from sluice.connectors.postgres import DIALECT
from sluice.connectors.postgres.config import PostgresCreds
from sluice.connectors.postgres.connection import connect, number_params, translate
from sluice.connectors.postgres.udts import ensure_udts, udt_of
from sluice.connectors.postgres.writing import SinkColumn, sink_column
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import StageError
from sluice.core.models import LoadMode, TableRef

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection, Cursor

from sluice.connectors.postgres.copy import ParallelCopy
from sluice.connectors.postgres.evolve import PostgresEvolve

log = logging.getLogger("sluice.postgres")


class PostgresSink(PostgresEvolve):
    type_name: ClassVar[str] = "postgres"
    dialect: ClassVar[Dialect] = DIALECT
    # Spelled as format_type() spells them; sized text types: see type_change.
    widenings: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("SMALLINT", "INTEGER"),
            ("SMALLINT", "BIGINT"),
            ("INTEGER", "BIGINT"),
            ("REAL", "DOUBLE PRECISION"),
        }
    )
    # A load COPYs over this many connections once it has sent `split_rows` rows (small
    # loads stay on one), in pieces of about `copy_batch_bytes`: see ParallelCopy.
    copy_streams: ClassVar[int] = 2
    split_rows: ClassVar[int] = 200_000
    copy_batch_bytes: ClassVar[int] = 4 << 20

    def __init__(self, creds: PostgresCreds) -> None:
        self.creds = creds
        self._connection: Connection = connect(creds)
        self._cursor: Cursor = self._connection.cursor()
        # Column -> the sink's enum type, for the load under way (see _ensure_enums).
        self._enum_types: dict[str, str] = {}
        # Column -> the sink's domain or composite type, for the load under way (udts.py).
        self._udt_types: dict[str, str] = {}
        self._server_version_num: int | None = None  # asked once, when first needed
        # The sink table and key of the load under way, for errors about its rows.
        self._loading: tuple[TableRef, tuple[str, ...]] | None = None

    def _run(self, sql: str, params: tuple[Any, ...]) -> None:
        import adbc_driver_manager

        try:
            if params:
                self._cursor.execute(number_params(sql, self.dialect.param_marker), params)
            else:
                self._cursor.execute(sql)
        except adbc_driver_manager.Error as exc:
            raise translate(exc, self.creds) from exc

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

    def primary_key_of(self, table: TableRef) -> tuple[str, ...] | None:
        if self.table_columns(table) is None:
            return None
        rows = self.query(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(?) AND i.indisprimary "
            "ORDER BY array_position(i.indkey::int2[], a.attnum)",
            (self.qualified(table),),
        )
        return tuple(str(row[0]) for row in rows)

    def sibling_names(self, schema: str | None) -> list[str]:
        where = "n.nspname = $1" if schema else "n.nspname = current_schema()"
        rows = self.query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE {where} AND c.relkind IN ('r', 'p') AND starts_with(c.relname, '__sluice_')",
            (schema,) if schema else (),
        )
        return [str(row[0]) for row in rows]

    def load(self, request: LoadRequest, batches: Iterable[pa.RecordBatch]) -> LoadResult:
        self._clear_name(request.table)
        self._loading = (request.table, request.primary_key)
        self._enum_types = self._ensure_enums(request.table, request.schema)
        self._udt_types = self._ensure_udts(request.table, request.schema)
        if request.mode is LoadMode.REPLACE and not request.dedupe:
            return self._replace_directly(request, iter(batches))
        return super().load(request, batches)

    def final_types(self, request: LoadRequest, staging: TableRef) -> dict[str, str]:
        # Staged as text, declared varchar(n) or char(n): an assignment cast converts them.
        types = super().final_types(request, staging)
        for column in self._sink_columns(request.schema):
            if column.direct:
                types[column.name] = column.declared
        return types

    def _sink_columns(self, schema: pa.Schema) -> list[SinkColumn]:
        version = self.server_version_num()
        return [
            sink_column(
                field,
                self._enum_types.get(field.name),
                server_version_num=version,
                udt_type=self._udt_types.get(field.name),
            )
            for field in schema
        ]

    def bound_sql(self, aggregate: str, quoted: str, kind: pa.DataType) -> str:
        # The driver reads oid (unsigned) as a signed int32: the text of every integer is exact.
        if pa.types.is_integer(kind):
            return f"{aggregate}({quoted})::text"
        return super().bound_sql(aggregate, quoted, kind)

    def _ensure_udts(self, table: TableRef, schema: pa.Schema) -> dict[str, str]:
        if not any(udt_of(field) for field in schema):
            return {}
        self._ensure_schema(table.schema)
        return ensure_udts(self, table, self._namespace(table), schema)

    def server_version_num(self) -> int:
        """The server's version as a number (150004 for 15.4): some types depend on it."""
        if self._server_version_num is None:
            rows = self.query("SELECT current_setting('server_version_num')::int")
            self._server_version_num = int(rows[0][0])
        return self._server_version_num

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
        self.prepare(request)
        fresh = self.sibling(request.table, "__sluice_new_", request.run_id)
        self.execute(f"DROP TABLE IF EXISTS {self.qualified(fresh)}")
        rows = self._create_and_copy(fresh, request.schema, batches, kept=True)
        try:
            if request.primary_key:
                keys = ", ".join(quote_ident(c) for c in request.primary_key)
                self.execute(f"ALTER TABLE {self.qualified(fresh)} ADD PRIMARY KEY ({keys})")
            self.commit_with_batches(request, lambda: self._swap_in(request, fresh))
        except BaseException:
            with suppress(StageError):
                self.execute(f"DROP TABLE IF EXISTS {self.qualified(fresh)}")
            raise
        return LoadResult(rows_loaded=rows)

    def bulk_stage(
        self, staging: TableRef, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
    ) -> int:
        return self._create_and_copy(staging, schema, batches, kept=False)

    def _create_and_copy(
        self,
        table: TableRef,
        schema: pa.Schema,
        batches: Iterator[pa.RecordBatch],
        *,
        kept: bool,
    ) -> int:
        """Create `table` for `schema` and fill it by binary COPY; dropped again on failure.

        A staging table (not `kept`) is unlogged: its rows are copied once more into the
        final table, so WAL for them would only be written to be thrown away.
        """
        columns = self._sink_columns(schema)
        self._ensure_schema(table.schema)
        created = [c.copied if kept else c.staged for c in columns]
        definition = ", ".join(
            f"{quote_ident(c.name)} {kind}" for c, kind in zip(columns, created, strict=True)
        )
        kind = "TABLE" if kept else "UNLOGGED TABLE"
        self.execute(f"CREATE {kind} {self.qualified(table)} ({definition})")
        try:
            rows = ParallelCopy(self, table, columns, batches).run(self._cursor)
            final = [c.declared if kept or not c.direct else c.staged for c in columns]
            self._retype(table, columns, created, final)
        except BaseException:
            # The shared load only cleans up after the apply step; this table is ours to drop.
            with suppress(StageError):
                self.execute(f"DROP TABLE IF EXISTS {self.qualified(table)}")
            raise
        return rows

    def _retype(
        self, table: TableRef, columns: list[SinkColumn], created: list[str], final: list[str]
    ) -> None:
        """Text loaded for a richer type becomes that type: one ALTER, so one table rewrite."""
        changes = [
            f"ALTER COLUMN {quote_ident(c.name)} TYPE {want} USING {quote_ident(c.name)}::{want}"
            for c, have, want in zip(columns, created, final, strict=True)
            if have != want
        ]
        if changes:
            self.execute(f"ALTER TABLE {self.qualified(table)} {', '.join(changes)}")

    def close(self) -> None:
        self._cursor.close()
        self._connection.close()
