"""MySQL/MariaDB source: connectorx streams Arrow batches, declared types restored exactly.

Snapshot. connectorx opens its own connection for the read, and runs the pre-execution
queries on that very connection just before the read's SELECT. So the read starts with
START TRANSACTION WITH CONSISTENT SNAPSHOT there, counts the table into a session variable
inside that transaction when asked (`count_rows`), and the SELECT carries the variable as one
more column, which this source takes off: on InnoDB the count and every batch see exactly the
same snapshot, in one transaction on one connection.

MyISAM, Aria, MEMORY and other engines without transactions get no snapshot: START
TRANSACTION changes nothing for them, so a write between the count and the read (two
statements) can make them differ; hop 1 then fails (the extract stage compares them before
it commits anything to the lake), it never publishes rows that disagree with the count. The
read itself is still one SELECT, which such an engine serves under a table lock.

Time zone. Every session sets time_zone = '+00:00': MySQL converts TIMESTAMP values from UTC
to the session time zone, so they arrive as UTC (Arrow timestamp('us', 'UTC')). DATETIME has
no time zone and is read as written (timestamp('us') without one).
"""

from __future__ import annotations

import shlex
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from sluice.connectors.base import ReadRequest, SourceRead, TableInfo
from sluice.connectors.discovery import CatalogTable
from sluice.connectors.missing import missing_table
from sluice.connectors.mysql.config import MySQLCreds
from sluice.connectors.mysql.connection import SESSION_SQL, connect, encrypted, translate
from sluice.connectors.mysql.discover import discover
from sluice.connectors.mysql.literals import bound_condition
from sluice.connectors.mysql.partitions import PartitionedReads
from sluice.connectors.mysql.types import DATE_TYPES, MySQLColumn, conform
from sluice.connectors.mysql.zerodates import (
    ZeroDatesToNull,
    first_zero_date_sql,
    zero_date_refusal,
)
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import StageError, TerminalError
from sluice.core.models import TableRef
from sluice.core.suggest import did_you_mean

if TYPE_CHECKING:
    from pymysql.cursors import Cursor

_COLUMNS_SQL = (
    "SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE "
    "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
    "ORDER BY ORDINAL_POSITION"
)
_PRIMARY_KEY_SQL = (
    "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
    "AND TABLE_NAME = %s AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX"
)
_TABLES_SQL = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s ORDER BY 1"
# How connectorx's panic on a value it cannot convert (a zero date) begins.
UNCONVERTIBLE = "Couldn't convert the value"
# The column that carries the count out of the read's transaction (see the module docstring).
COUNT_COLUMN = "__sluice_counted_rows"


class MySQLSource(PartitionedReads):
    type_name: ClassVar[str] = "mysql"
    # The read's own transaction: InnoDB fixes the snapshot at once, not at the first read.
    snapshot_sql: ClassVar[str] = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"
    count_variable: ClassVar[str] = "@sluice_counted_rows"

    def __init__(self, creds: MySQLCreds) -> None:
        self.creds = creds
        self._tls = False  # whether the server offered TLS to the last catalog connection

    @contextmanager
    def _cursor(self) -> Iterator[Cursor]:
        import pymysql

        connection = connect(self.creds)
        try:
            with connection.cursor() as cursor:
                yield cursor
        except pymysql.Error as exc:
            raise translate(exc, self.creds) from exc
        finally:
            connection.close()

    def ping(self) -> str:
        with self._cursor() as cursor:
            version, tables = _fetch(
                cursor,
                "SELECT VERSION(), (SELECT COUNT(*) FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE())",
            )[0]
        server = "MariaDB" if "mariadb" in str(version).lower() else "MySQL"
        number = str(version).split("-")[0]
        return f"{server} {number} at {self.creds.location()}, {tables} table(s)"

    def discover(self, schema: str | None) -> list[CatalogTable]:
        with self._cursor() as cursor:
            return discover(cursor, schema)

    def check(self, table: TableRef, *, count_rows: bool = True) -> TableInfo:
        with self._cursor() as cursor:
            database = self._database(cursor, table)
            columns = self._columns(cursor, table, database)
            count = (
                int(_fetch(cursor, f"SELECT COUNT(*) FROM {_qualified(table)}")[0][0])
                if count_rows
                else None
            )
            primary_key = tuple(
                str(row[0]) for row in _fetch(cursor, _PRIMARY_KEY_SQL, (database, table.name))
            )
        schema = pa.schema([column.field(_shown(table, database)) for column in columns])
        return TableInfo(table=table, schema=schema, row_count=count, primary_key=primary_key)

    def read(self, request: ReadRequest) -> SourceRead:
        warnings: list[str] = []
        return SourceRead(self._read(request, warnings), warnings)

    def _read(
        self,
        request: ReadRequest,
        warnings: list[str],
        *,
        where: str = "",
        checks: tuple[str, ...] = (),
    ) -> Generator[pa.RecordBatch, None, int | None]:
        """The read; `where` (a range's) and `checks` (run after the snapshot began) are a
        partitioned read's (connectors/mysql/partitions.py)."""
        table = request.table
        # The catalog first, over PyMySQL: it fails fast (and clearly) on a bad password, a
        # missing database or table, where connectorx would retry its pool for 30 s.
        with self._cursor() as cursor:
            database = self._database(cursor, table)
            columns = self._columns(cursor, table, database)
            self._tls = self.creds.tls_mode() == "preferred" and encrypted(cursor.connection)
        shown = _shown(table, database)
        schema = pa.schema([column.field(shown) for column in columns])
        names = {column.name for column in columns}
        to_null = ZeroDatesToNull(columns) if request.zero_dates_to_null else None
        if to_null is not None:
            select = [to_null.expression(column) for column in columns] + to_null.flags()
        else:
            select = [column.expression() for column in columns]
        pre = [*self.pre_execution(table, count_rows=request.count_rows), *checks]
        if request.count_rows:
            select.append(f"CAST({self.count_variable} AS SIGNED) AS {COUNT_COLUMN}")
        key = request.incremental_key
        bounded = key is not None and request.lower_bound is not None
        if key is not None and bounded:
            for column_name in (key, request.fallback_key):
                if column_name is not None and column_name not in names:
                    raise TerminalError(
                        f"incremental key {column_name!r} is not a column of {shown}"
                        f"{did_you_mean(column_name, names)}"
                    )
            where = " WHERE " + bound_condition(
                key, request.fallback_key, request.lower_bound, columns
            )
        sql = f"SELECT {', '.join(select)} FROM {_qualified(table)}{where}"
        counted: int | None = None
        saw_rows = False
        try:
            for raw in self._stream(sql, pre, request.batch_rows):
                if request.count_rows and raw.num_rows:
                    counted = int(raw.column(COUNT_COLUMN)[0].as_py())
                saw_rows = saw_rows or raw.num_rows > 0
                if to_null is not None:
                    to_null.count(raw)
                if raw.num_rows:
                    yield conform(raw, schema, shown)
        except StageError as exc:
            if UNCONVERTIBLE in str(exc):  # a value no Arrow type took: a zero date?
                self._refuse_zero_dates(table, shown, columns, where)
            raise
        if request.count_rows and not saw_rows and not bounded:
            counted = 0  # an empty read of the whole table: the snapshot held no rows
        if to_null is not None:
            warnings += to_null.warnings(shown)
        return counted

    def pre_execution(self, table: TableRef, *, count_rows: bool) -> list[str]:
        """What the read's connection runs before its SELECT: session settings, the snapshot,
        and the count into a session variable when asked."""
        statements = [*SESSION_SQL, self.snapshot_sql]
        if count_rows:
            statements.append(
                f"SELECT COUNT(*) INTO {self.count_variable} FROM {_qualified(table)}"
            )
        return statements

    def _stream(self, sql: str, pre: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        import connectorx

        try:
            reader = connectorx.read_sql(
                self.creds.connectorx_url(server_has_tls=self._tls),
                sql,
                return_type="arrow_stream",
                batch_size=batch_rows,
                pre_execution_query=pre,
            )
            yield from reader
        except (RuntimeError, OSError, pa.ArrowException) as exc:
            raise translate(exc, self.creds, "reading from") from exc
        except BaseException as exc:
            # connectorx reports an error met on its reading thread as a Rust panic
            # (pyo3's PanicException derives from BaseException): only that is translated.
            if type(exc).__name__ != "PanicException":
                raise
            raise translate(exc, self.creds, "reading from") from exc

    def _refuse_zero_dates(
        self, table: TableRef, shown: str, columns: list[MySQLColumn], where: str
    ) -> None:
        """After a failed read: the first date column holding a zero date, named with the fix.

        connectorx stops at a zero date with a panic that names neither column nor row, so
        the source asks the server; a read that failed for another reason finds none here.
        """
        dated = [column for column in columns if column.data_type in DATE_TYPES]
        if not dated:
            return
        with self._cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = ''")  # comparisons with zero dates allowed
            for column in dated:
                found = _fetch(cursor, first_zero_date_sql(column, _qualified(table), where))
                if found:
                    config = shlex.quote(str(table))
                    raise zero_date_refusal(column, shown, str(found[0][0]), config) from None

    def close(self) -> None:
        """Connections live for one call; nothing stays open."""

    # ---- catalog ----------------------------------------------------------------------
    def _database(self, cursor: Cursor, table: TableRef) -> str:
        return table.schema or str(_fetch(cursor, "SELECT DATABASE()")[0][0])

    def _columns(self, cursor: Cursor, table: TableRef, database: str) -> list[MySQLColumn]:
        rows = _fetch(cursor, _COLUMNS_SQL, (database, table.name))
        if not rows:
            raise self._missing(cursor, table, database)
        return [
            MySQLColumn(
                name=str(name),
                data_type=str(data_type),
                column_type=str(column_type),
                precision=None if precision is None else int(precision),
                scale=None if scale is None else int(scale),
            )
            for name, data_type, column_type, precision, scale in rows
        ]

    def _missing(self, cursor: Cursor, table: TableRef, database: str) -> TerminalError:
        names = [str(row[0]) for row in _fetch(cursor, _TABLES_SQL, (database,))]
        looked = (
            f"table {str(table)!r} does not exist in database {database!r} of MySQL "
            f"{self.creds.location()}"
        )
        return missing_table(looked, table.name, names)


def _qualified(table: TableRef) -> str:
    name = quote_ident(table.name, "`")
    return f"{quote_ident(table.schema, '`')}.{name}" if table.schema else name


def _shown(table: TableRef, database: str) -> str:
    """The table as messages name it: always with its database."""
    return f"{quote_ident(database, '`')}.{quote_ident(table.name, '`')}"


def _fetch(cursor: Cursor, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    cursor.execute(sql, params or None)
    return [tuple(row) for row in cursor.fetchall()]
