"""SQLite source: one read transaction per run (sqlsource.py), declared types mapped to Arrow
per column."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.dialect import Dialect
from sluice.connectors.discovery import CatalogTable
from sluice.connectors.sqlite import DIALECT
from sluice.connectors.sqlite.config import SQLiteCreds
from sluice.connectors.sqlite.discover import discover
from sluice.connectors.sqlite.types import arrow_type
from sluice.connectors.sqlquote import quote_ident
from sluice.connectors.sqlsource import SqlSource
from sluice.core.errors import StageError, TerminalError, TransientError
from sluice.core.infinity import infinities
from sluice.core.models import TableRef


class SQLiteSource(SqlSource):
    type_name: ClassVar[str] = "sqlite"
    dialect: ClassVar[Dialect] = DIALECT

    def __init__(self, creds: SQLiteCreds) -> None:
        self.path = Path(creds.path).expanduser()

    def connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise TerminalError(
                f"SQLite database file {self.path} does not exist: fix the source's creds path"
            )
        try:
            # Read-only; autocommit, so the read's BEGIN opens the one read transaction.
            return sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=30.0,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from exc

    def translate(self, exc: Exception) -> StageError | None:
        return _translate(exc, self.path) if isinstance(exc, sqlite3.Error) else None

    def where(self) -> str:
        return f"SQLite database {self.path}"

    def discover(self, schema: str | None) -> list[CatalogTable]:
        with self.session() as connection:
            connection.execute(self.begin_sql)  # one snapshot for every table's look
            found = discover(connection, schema)
            connection.execute("COMMIT")
        return found

    def schema_of(
        self, connection: sqlite3.Connection, table: TableRef
    ) -> tuple[pa.Schema, tuple[str, ...]]:
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
            raise self.missing_table(table, names)
        schema = pa.schema([(row[1], arrow_type(row[2] or "")) for row in rows])
        primary_key = tuple(row[1] for row in sorted(rows, key=lambda r: int(r[5])) if row[5])
        return schema, primary_key

    def batches(
        self, cursor: sqlite3.Cursor, schema: pa.Schema, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        while rows := cursor.fetchmany(batch_rows):
            yield _to_batch(rows, schema)

    def bound_value(self, value: Any) -> Any:
        return _loose_bound(value)

    def ping(self) -> str:
        with self.session() as connection:
            tables = connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
        return f"SQLite {sqlite3.sqlite_version} at {self.path}, {tables} table(s)"


def _schema_prefix(table: TableRef) -> str:
    return f"{quote_ident(table.schema)}." if table.schema else ""


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
        # min_count=0: a batch whose column is all NULL holds no value other than 0 or 1.
        if not pc.all(pc.is_in(integers.drop_null(), pa.array([0, 1])), min_count=0).as_py():
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


def _translate(exc: sqlite3.Error, path: Path) -> StageError:
    message = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in message:
        return TransientError(f"SQLite database {path} is locked: {message}")
    return TerminalError(f"SQLite source {path}: {message}")
