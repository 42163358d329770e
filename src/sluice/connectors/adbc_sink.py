"""The statement primitives of a SQL sink reached through an ADBC DB-API cursor."""

from __future__ import annotations

from contextlib import suppress
from typing import Any, ClassVar

import pyarrow as pa

from sluice.connectors.sqlsink import SqlSinkBase


class AdbcSinkBase(SqlSinkBase):
    """execute/query/transactions over `self._cursor`; a sink states how a statement runs
    (`_run`: parameters and error translation) and how its transactions begin."""

    begin_sql: ClassVar[str] = "BEGIN"
    _cursor: Any

    def _run(self, sql: str, params: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self._run(sql, params)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self._run(sql, params)
        return [tuple(row) for row in self._cursor.fetchall()]

    def query_arrow(self, sql: str) -> pa.Table:
        self._run(sql, ())
        table: pa.Table = self._cursor.fetch_arrow_table()
        return table

    def begin(self) -> None:
        self.execute(self.begin_sql)

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        import adbc_driver_manager

        with suppress(adbc_driver_manager.Error):  # nothing open, or the connection is gone
            self._cursor.execute("ROLLBACK")
