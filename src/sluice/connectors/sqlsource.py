"""The shared work of a source read over a DB-API connection; a source states what differs.

A read is one transaction: its first statement fixes the snapshot, the count (when asked)
and every batch see the same rows, and the read hands back that count (SourceRead). The
lower bound is `key >= ?` (or COALESCE(key, fallback) when the key may be NULL), loose as the
engine allows; a missing table is one line listing the tables there with "did you mean".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import pyarrow as pa

from sluice.connectors.base import ReadRequest, SourceRead, TableInfo
from sluice.connectors.dialect import Dialect
from sluice.connectors.missing import missing_table
from sluice.core.errors import StageError, TerminalError
from sluice.core.models import TableRef


class SqlSource(ABC):
    type_name: ClassVar[str]
    dialect: ClassVar[Dialect]
    begin_sql: ClassVar[str] = "BEGIN"  # starts the read transaction, fixing its snapshot

    # ---- what a source states -----------------------------------------------------------
    @abstractmethod
    def connect(self) -> Any:
        """A DB-API connection in autocommit mode (BEGIN is sent by the read)."""

    @abstractmethod
    def translate(self, exc: Exception) -> StageError | None:
        """The sluice error for a driver error, or None when `exc` is not the driver's."""

    @abstractmethod
    def schema_of(self, connection: Any, table: TableRef) -> tuple[pa.Schema, tuple[str, ...]]:
        """The table's Arrow schema and primary key; `missing_table` when there is none."""

    @abstractmethod
    def batches(self, cursor: Any, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The rows of an executed SELECT as batches of `schema`."""

    def bound_value(self, value: Any) -> Any:
        """The lower bound as the driver should bind it."""
        return value

    # ---- the shared work ----------------------------------------------------------------
    def where(self) -> str:
        """Where the tables a missing-table message lists live (for the message)."""
        return self.type_name

    def missing_table(self, table: TableRef, names: list[str]) -> TerminalError:
        looked = f"table {str(table)!r} does not exist in {self.where()}"
        return missing_table(looked, table.name, names)

    def qualified(self, table: TableRef) -> str:
        quote = self.dialect.quote
        return (f"{quote(table.schema)}." if table.schema else "") + quote(table.name)

    def count(self, connection: Any, table: TableRef) -> int:
        cursor = connection.cursor()
        cursor.execute(f"SELECT count(*) FROM {self.qualified(table)}")
        return int(cursor.fetchone()[0])

    def select(self, request: ReadRequest) -> tuple[str, tuple[Any, ...]]:
        sql = f"SELECT * FROM {self.qualified(request.table)}"
        if request.incremental_key is None or request.lower_bound is None:
            return sql, ()
        key = self.dialect.quote(request.incremental_key)
        if request.fallback_key:
            key = f"COALESCE({key}, {self.dialect.quote(request.fallback_key)})"
        return f"{sql} WHERE {key} >= ?", (self.bound_value(request.lower_bound),)

    @contextmanager
    def session(self) -> Iterator[Any]:
        """A connection whose driver errors arrive as sluice's errors; closed after."""
        connection = self.connect()
        try:
            yield connection
        except Exception as exc:
            error = self.translate(exc)
            if error is None:
                raise
            raise error from exc
        finally:
            connection.close()

    def check(self, table: TableRef, *, count_rows: bool = True) -> TableInfo:
        with self.session() as connection:
            schema, primary_key = self.schema_of(connection, table)
            count = self.count(connection, table) if count_rows else None
        return TableInfo(table=table, schema=schema, row_count=count, primary_key=primary_key)

    def read(self, request: ReadRequest) -> SourceRead:
        return SourceRead(self._read(request))

    def _read(self, request: ReadRequest) -> Generator[pa.RecordBatch, None, int | None]:
        with self.session() as connection:
            connection.execute(self.begin_sql)
            schema, _ = self.schema_of(connection, request.table)
            counted = self.count(connection, request.table) if request.count_rows else None
            sql, params = self.select(request)
            cursor = connection.cursor()
            cursor.execute(sql, params)
            yield from self.batches(cursor, schema, request.batch_rows)
            connection.execute("COMMIT")
        return counted

    def close(self) -> None:  # noqa: B027 - nothing to close, by design
        """Connections live for one call; nothing stays open."""
