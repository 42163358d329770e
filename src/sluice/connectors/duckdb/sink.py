"""DuckDB sink: Arrow streams straight into a staging table, then the shared SQL steps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from sluice.connectors.dialect import Dialect
from sluice.connectors.duckdb import DIALECT
from sluice.connectors.duckdb.config import DuckDBCreds
from sluice.connectors.embedded import make_folder, one_line
from sluice.connectors.sqlquote import quote_ident
from sluice.connectors.sqlsink import SqlSinkBase
from sluice.core.errors import TerminalError, TransientError
from sluice.core.models import TableRef

if TYPE_CHECKING:
    import duckdb


class DuckDBSink(SqlSinkBase):
    type_name: ClassVar[str] = "duckdb"
    dialect: ClassVar[Dialect] = DIALECT
    widenings: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("TINYINT", "SMALLINT"),
            ("TINYINT", "INTEGER"),
            ("TINYINT", "BIGINT"),
            ("SMALLINT", "INTEGER"),
            ("SMALLINT", "BIGINT"),
            ("INTEGER", "BIGINT"),
            ("FLOAT", "DOUBLE"),
        }
    )

    def __init__(self, creds: DuckDBCreds) -> None:
        import duckdb

        self.path = Path(creds.path).expanduser()
        make_folder(self.path, "DuckDB")
        try:
            self._connection: duckdb.DuckDBPyConnection = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():  # another process holds the single-writer lock
                raise TransientError(f"DuckDB sink {self.path} is in use: {exc}") from exc
            raise TerminalError(
                f"cannot open DuckDB sink {self.path}: {one_line(exc)}; fix the destination's "
                "path (a DuckDB database file, or one that does not exist yet)"
            ) from exc
        except duckdb.Error as exc:
            raise TerminalError(f"cannot open DuckDB sink {self.path}: {one_line(exc)}") from exc

    def _run(self, sql: str, params: tuple[Any, ...]) -> duckdb.DuckDBPyConnection:
        import duckdb

        try:
            return self._connection.execute(sql, list(params) if params else None)
        except duckdb.TransactionException as exc:
            raise TransientError(f"DuckDB sink {self.path}: {exc}") from exc
        except duckdb.Error as exc:
            raise TerminalError(f"DuckDB sink {self.path}: {exc}") from exc

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self._run(sql, params)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._run(sql, params).fetchall()]

    def query_arrow(self, sql: str) -> pa.Table:
        import duckdb

        try:
            table: pa.Table = self._connection.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise TerminalError(f"DuckDB sink {self.path}: {exc}") from exc
        return table

    def begin(self) -> None:
        self.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        import duckdb

        try:
            self._connection.execute("ROLLBACK")
        except duckdb.TransactionException:
            return  # nothing was open

    def table_columns(self, table: TableRef) -> dict[str, str] | None:
        rows = self.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = ? ORDER BY ordinal_position",
            (table.name, table.schema or "main"),
        )
        return {str(name): str(kind) for name, kind in rows} if rows else None

    def primary_key_of(self, table: TableRef) -> tuple[str, ...] | None:
        if self.table_columns(table) is None:
            return None
        rows = self.query(
            "SELECT constraint_column_names FROM duckdb_constraints() WHERE schema_name = ? "
            "AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
            (table.schema or "main", table.name),
        )
        return tuple(str(c) for c in rows[0][0]) if rows else ()

    def sibling_names(self, schema: str | None) -> list[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
            "AND starts_with(table_name, '__sluice_')",
            (schema or "main",),
        )
        return [str(row[0]) for row in rows]

    def bulk_stage(
        self, staging: TableRef, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
    ) -> int:
        if table_schema := staging.schema:
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(table_schema)}")
        rows = 0

        def counted() -> Iterator[pa.RecordBatch]:
            nonlocal rows
            for batch in batches:
                rows += batch.num_rows
                yield batch

        reader = pa.RecordBatchReader.from_batches(_duckdb_schema(schema), _fit(counted(), schema))
        self._connection.register("_sluice_incoming", reader)
        try:
            self.execute(
                f"CREATE TABLE {self.qualified(staging)} AS SELECT * FROM _sluice_incoming"
            )
        finally:
            self._connection.unregister("_sluice_incoming")
        return rows

    def alter_column_type(self, table: TableRef, column: str, new_type: str) -> str:
        self.execute(
            f"ALTER TABLE {self.qualified(table)} ALTER {quote_ident(column)} TYPE {new_type}"
        )
        return new_type

    def arrow(self, table: TableRef) -> pa.Table:
        """The whole table as Arrow (for checks and tests, not the load path)."""
        result: pa.Table = self._connection.sql(
            f"SELECT * FROM {self.qualified(table)}"
        ).to_arrow_table()
        return result

    def close(self) -> None:
        self._connection.close()


def _duckdb_schema(schema: pa.Schema) -> pa.Schema:
    # DuckDB's DECIMAL stops at 38 digits; wider values travel as exact text.
    return pa.schema(
        [
            f.with_type(pa.string()) if pa.types.is_decimal(f.type) and f.type.precision > 38 else f
            for f in schema
        ]
    )


def _fit(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    target = _duckdb_schema(schema)
    for batch in batches:
        yield batch if target == schema else batch.cast(target)
