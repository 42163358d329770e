"""SQLite source: one read transaction per run, declared types mapped to Arrow per column."""

from __future__ import annotations

import sqlite3
from collections.abc import Generator
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.base import ReadRequest, SourceRead, TableInfo
from sluice.connectors.sqlite.config import SQLiteCreds
from sluice.connectors.sqlite.types import arrow_type
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import TerminalError, TransientError
from sluice.core.infinity import infinities
from sluice.core.models import TableRef
from sluice.core.suggest import did_you_mean


class SQLiteSource:
    type_name: ClassVar[str] = "sqlite"

    def __init__(self, creds: SQLiteCreds) -> None:
        self.path = Path(creds.path).expanduser()

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise TerminalError(
                f"SQLite database file {self.path} does not exist: fix the source's creds path"
            )
        try:
            connection = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=30.0,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from exc
        return connection

    def _columns(
        self, connection: sqlite3.Connection, table: TableRef
    ) -> list[tuple[str, str, int]]:
        rows = connection.execute(
            f"PRAGMA {_schema_prefix(table)}table_info({quote_ident(table.name)})"
        ).fetchall()
        if not rows:
            names = [
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
                )
            ]
            raise TerminalError(
                f"table {str(table)!r} does not exist in SQLite database {self.path}"
                f"{did_you_mean(table.name, names)}; tables there: {', '.join(names) or '(none)'}"
            )
        return [(row[1], row[2] or "", int(row[5])) for row in rows]

    def ping(self) -> str:
        connection = self._connect()
        try:
            tables = connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from exc
        finally:
            connection.close()
        return f"SQLite {sqlite3.sqlite_version} at {self.path}, {tables} table(s)"

    def check(self, table: TableRef, *, count_rows: bool = True) -> TableInfo:
        connection = self._connect()
        try:
            columns = self._columns(connection, table)
            count = self._count(connection, table) if count_rows else None
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from exc
        finally:
            connection.close()
        schema = pa.schema([(name, arrow_type(decl)) for name, decl, _ in columns])
        primary_key = tuple(name for name, _, pk in sorted(columns, key=lambda c: c[2]) if pk)
        return TableInfo(table=table, schema=schema, row_count=count, primary_key=primary_key)

    def read(self, request: ReadRequest) -> SourceRead:
        return SourceRead(self._read(request))

    def _read(self, request: ReadRequest) -> Generator[pa.RecordBatch, None, int | None]:
        connection = self._connect()
        try:
            # One read transaction: every batch comes from the same snapshot of the file,
            # which the first read (the count, when asked) fixes.
            connection.execute("BEGIN")
            columns = self._columns(connection, request.table)
            counted = self._count(connection, request.table) if request.count_rows else None
            schema = pa.schema([(name, arrow_type(decl)) for name, decl, _ in columns])
            sql = f"SELECT * FROM {_qualified(request.table)}"
            params: tuple[Any, ...] = ()
            if request.incremental_key is not None and request.lower_bound is not None:
                key = quote_ident(request.incremental_key)
                if request.fallback_key:
                    key = f"COALESCE({key}, {quote_ident(request.fallback_key)})"
                sql += f" WHERE {key} >= ?"
                params = (_loose_bound(request.lower_bound),)
            cursor = connection.execute(sql, params)
            while rows := cursor.fetchmany(request.batch_rows):
                yield _to_batch(rows, schema)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from exc
        finally:
            connection.close()
        return counted

    def _count(self, connection: sqlite3.Connection, table: TableRef) -> int:
        return int(connection.execute(f"SELECT count(*) FROM {_qualified(table)}").fetchone()[0])

    def close(self) -> None:
        """Connections live for one call; nothing stays open."""


def _schema_prefix(table: TableRef) -> str:
    return f"{quote_ident(table.schema)}." if table.schema else ""


def _qualified(table: TableRef) -> str:
    return _schema_prefix(table) + quote_ident(table.name)


def _loose_bound(value: Any) -> Any:
    """A bound no greater than `value` in SQLite's own ordering of stored text.

    Timestamps are stored as text in several spellings ('T' or ' ', fractions, 'Z'); the
    whole-second, space-separated form sorts at or before every spelling of the same instant.
    The engine filters the exact boundary afterwards.
    """
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _to_batch(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    arrays = [
        _column(values, field)
        for values, field in zip(zip(*rows, strict=True), schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _column(values: tuple[Any, ...], field: pa.Field) -> pa.Array:
    target = field.type
    try:
        return _converted(values, target)
    except _UNFIT as exc:
        sample = next((v for v in values if v is not None and not _fits(v, target)), None)
        raise TerminalError(
            f"column {field.name!r} holds a value that does not fit its declared type "
            f"({target}): {type(sample).__name__} value found ({exc.__class__.__name__}); "
            "fix the data or declare the column's type to match it"
        ) from None


_UNFIT = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError)


def _converted(values: tuple[Any, ...], target: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(target) or pa.types.is_date(target):
        text = pa.array(values, type=pa.string())
        text = pc.replace_substring_regex(text, pattern=r"(Z|[+-]00:?00)$", replacement="")
        return _with_infinities(text, target)
    if pa.types.is_boolean(target):
        # SQLite has no boolean storage class: booleans are the integers 0 and 1.
        integers = _integers(values)
        if not pc.all(pc.is_in(integers.drop_null(), pa.array([0, 1]))).as_py():
            raise pa.ArrowInvalid("a boolean is 0 or 1")
        return integers.cast(target)
    if pa.types.is_integer(target):
        return _integers(values).cast(target)
    if pa.types.is_string(target) and any(not isinstance(v, str | None) for v in values):
        values = tuple(None if v is None else _as_text(v) for v in values)
    return pa.array(values, type=target)


def _integers(values: tuple[Any, ...]) -> pa.Array:
    """The values as int64, refusing a float or text rather than truncating it (pyarrow
    turns 1.5 into 1 when told the type)."""
    inferred = pa.array(values)
    if not (pa.types.is_integer(inferred.type) or pa.types.is_null(inferred.type)):
        raise pa.ArrowInvalid(f"{inferred.type} is not an integer")
    return inferred.cast(pa.int64())


def _with_infinities(text: pa.Array, target: pa.DataType) -> pa.Array:
    """Parsed dates or timestamps; the words 'infinity' and '-infinity' (as a sluice sink
    writes them) become the lake's infinity markers."""
    positive, negative = pc.equal(text, "infinity"), pc.equal(text, "-infinity")
    words = pc.fill_null(pc.or_(positive, negative), False)
    if not pc.any(words).as_py():
        return text.cast(target)
    parsed = pc.if_else(words, pa.scalar(None, pa.string()), text).cast(target)
    marked = pc.if_else(positive, infinities(target, len(text), positive=True), parsed)
    return pc.if_else(negative, infinities(target, len(text), positive=False), marked)


def _as_text(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def _fits(value: Any, target: pa.DataType) -> bool:
    try:
        _converted((value,), target)
    except _UNFIT:
        return False
    return True


def _translate(exc: sqlite3.Error, path: Path) -> Exception:
    message = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in message:
        return TransientError(f"SQLite database {path} is locked: {message}")
    return TerminalError(f"SQLite source {path}: {message}")
