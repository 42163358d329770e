"""SQLite sink: ADBC's bulk ingest into staging, then the shared SQL steps in one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.adbc_sink import AdbcSinkBase
from sluice.connectors.datetime_text import DatetimeSpelling, datetime_text
from sluice.connectors.dialect import Dialect
from sluice.connectors.embedded import make_folder, one_line
from sluice.connectors.sqlite import DIALECT
from sluice.connectors.sqlite.config import SQLiteCreds
from sluice.connectors.sqlite.types import declared_type
from sluice.connectors.sqlquote import quote_ident
from sluice.core.errors import TerminalError, TransientError
from sluice.core.infinity import marker as infinity_marker
from sluice.core.models import TableRef


class SQLiteSink(AdbcSinkBase):
    type_name: ClassVar[str] = "sqlite"
    dialect: ClassVar[Dialect] = DIALECT
    # SQLite's type affinity makes these spellings one storage class.
    type_aliases: ClassVar[dict[str, str]] = {"INT": "INTEGER", "BIGINT": "INTEGER"}
    # Take the write lock at BEGIN: a deferred one fails mid-transaction when busy.
    begin_sql: ClassVar[str] = "BEGIN IMMEDIATE"

    def __init__(self, creds: SQLiteCreds) -> None:
        import adbc_driver_sqlite.dbapi

        self.path = Path(creds.path).expanduser()
        make_folder(self.path, "SQLite")
        try:
            self._connection = adbc_driver_sqlite.dbapi.connect(str(self.path), autocommit=True)
        except Exception as exc:  # the driver's error classes share no narrower base
            raise TerminalError(f"cannot open SQLite sink {self.path}: {one_line(exc)}") from exc
        # Autocommit, with explicit BEGIN/COMMIT around the steps that must be one transaction.
        self._cursor = self._connection.cursor()
        self.execute("PRAGMA busy_timeout = 30000")

    def _run(self, sql: str, params: tuple[Any, ...]) -> None:
        import adbc_driver_manager

        try:
            self._cursor.execute(sql, params or None)
        except adbc_driver_manager.Error as exc:
            text = one_line(exc)  # the driver appends "\nquery: ..." to its message
            if "locked" in text or "busy" in text:
                raise TransientError(f"SQLite sink {self.path} is busy: {text}") from exc
            raise TerminalError(f"SQLite sink {self.path}: {text}") from exc

    def table_columns(self, table: TableRef) -> dict[str, str] | None:
        rows = self.query(f"PRAGMA table_info({quote_ident(table.name)})")
        if not rows:
            return None
        return {str(row[1]): str(row[2]) for row in rows}

    def primary_key_of(self, table: TableRef) -> tuple[str, ...] | None:
        rows = self.query(f"PRAGMA table_info({quote_ident(table.name)})")
        if not rows:
            return None
        return tuple(str(row[1]) for row in sorted(rows, key=lambda r: int(r[5])) if int(row[5]))

    def sibling_names(self, schema: str | None) -> list[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND substr(name, 1, 9) = '__sluice_'"
        )
        return [str(row[0]) for row in rows]

    def bulk_stage(
        self, staging: TableRef, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
    ) -> int:
        sqlite_schema = pa.schema([_storable_field(field) for field in schema])
        columns = ", ".join(
            f"{quote_ident(field.name)} {declared_type(field.type)}" for field in schema
        )
        self.execute(f"CREATE TABLE {self.qualified(staging)} ({columns})")
        rows = 0
        refused: list[TerminalError] = []

        def storable() -> Iterator[pa.RecordBatch]:
            nonlocal rows
            for batch in batches:
                try:
                    problem = _nan_refusal(batch)
                    if problem is not None:
                        raise TerminalError(problem)
                    stored = _storable(batch, sqlite_schema)
                except TerminalError as exc:
                    refused.append(exc)
                    raise
                rows += batch.num_rows
                yield stored

        reader = pa.RecordBatchReader.from_batches(sqlite_schema, storable())
        import adbc_driver_manager

        self.begin()
        try:
            self._cursor.adbc_ingest(staging.name, reader, mode="append")
        except adbc_driver_manager.Error as exc:
            self.rollback()
            if refused:  # the driver reports our refusal as its own, flattened
                raise refused[0] from None
            raise TerminalError(f"SQLite sink {self.path}: loading failed: {exc}") from exc
        except BaseException:
            self.rollback()
            if refused:
                raise refused[0] from None
            raise
        self.commit()
        return rows

    def exact_bounds(self, kind: pa.DataType) -> bool:
        # Dates and timestamps are text here, and decimals text or REAL by their digits:
        # their min() and max() follow SQLite's ordering, not the values'.
        return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))

    def close(self) -> None:
        self._cursor.close()
        self._connection.close()


def _nan_refusal(batch: pa.RecordBatch) -> str | None:
    """SQLite stores a NaN as NULL: a float column holding one cannot arrive exactly."""
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if not pa.types.is_floating(column.type) or len(column) == 0:
            continue
        nans = pc.sum(pc.is_nan(column)).as_py() or 0
        if nans:
            return (
                f"column {name!r} holds NaN in {nans} row(s) of this load: SQLite stores NaN "
                "as NULL, so the value would change; nothing was loaded. Load the table into a "
                "sink that keeps NaN (PostgreSQL, DuckDB), or, if NULL is what you mean, map it "
                f"in a view on the source (CASE WHEN {name} = 'NaN' THEN NULL ELSE {name} END)"
            )
    return None


def _storable_field(field: pa.Field) -> pa.Field:
    kind = field.type
    if isinstance(kind, pa.BaseExtensionType) or infinity_marker(kind) is not None:
        return field.with_type(pa.string())  # dates and timestamps: datetime_text
    if (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_date32(kind)
        or pa.types.is_timestamp(kind)
    ):
        return field
    if pa.types.is_large_string(kind):
        return field.with_type(pa.string())
    if pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return field.with_type(pa.binary())
    if pa.types.is_date64(kind):
        return field.with_type(pa.date32())
    return field.with_type(pa.string())


def _storable(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Types SQLite cannot hold natively become exact text (decimals, times, nested values)."""
    arrays = []
    for column, field in zip(batch.columns, schema, strict=True):
        if column.type == field.type:
            arrays.append(column)
        elif infinity_marker(column.type) is not None:
            arrays.append(datetime_text(column, SQLITE_SPELLING))
        elif isinstance(column.type, pa.UuidType):
            arrays.append(pa.array([None if v is None else str(v) for v in column.to_pylist()]))
        elif isinstance(column.type, pa.BaseExtensionType):
            arrays.append(_storable_column(column.storage, field.type))
        elif pa.types.is_nested(column.type) or pa.types.is_interval(column.type):
            arrays.append(
                pa.array(
                    [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()],
                    type=pa.string(),
                )
            )
        else:
            arrays.append(_storable_column(column, field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# The text the driver wrote before sluice spelled dates itself ('2024-05-01T12:00:00.123456',
# UTC for a time zone), which SQLite's date and time functions read; years before 1 are
# astronomical ('-0043-03-15', as Arrow and ISO 8601 spell them).
SQLITE_SPELLING = DatetimeSpelling(separator="T", utc_suffix="", era_suffix=False)


def _storable_column(column: pa.Array, target: pa.DataType) -> pa.Array:
    try:
        return pc.cast(column, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # No vectorised cast (binary that is not UTF-8, intervals): exact text, value by value.
        return pa.array([None if v is None else _text(v) for v in column.to_pylist()], type=target)


def _text(value: object) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)
