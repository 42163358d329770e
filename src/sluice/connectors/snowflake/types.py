"""Lake (Arrow) types as Snowflake declares them, and the batches as the staged Parquet files
carry them. A type Snowflake cannot hold exactly is refused here, naming the column and the
fix, before anything is staged: the value-fidelity rule allows no quiet approximation.

    lake                         Snowflake              note
    bool                         BOOLEAN
    int8 .. int64, uint8 .. 64   NUMBER(38,0)           Snowflake's only integer type
    float16/32/64                FLOAT                  a double; float32 widens exactly
    decimal(p,s), p <= 38        NUMBER(p,s)            p > 38 or s < 0: refused
    string, json                 VARCHAR                JSON as its text (PARSE_JSON to query)
    uuid                         VARCHAR(36)            the canonical text
    binary, fixed binary         BINARY
    date32/date64                DATE
    timestamp (no zone)          TIMESTAMP_NTZ(0|3|6|9) digits of the lake's unit
    timestamp (UTC)              TIMESTAMP_TZ(0|3|6|9)  the instant, offset +00:00
    time32/time64                TIME(0|3|6|9)
    null (only NULLs so far)     VARCHAR
    lists, structs, maps,        refused                no exact Snowflake column for them
    intervals, durations,
    +/-infinity dates
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from sluice.core.errors import TerminalError
from sluice.core.infinity import holds_infinities
from sluice.core.models import TableRef

# The digits of a timestamp or time of each Arrow unit.
_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
# Snowflake's NUMBER holds this many digits.
MAX_PRECISION = 38


@dataclass(frozen=True)
class StagedColumn:
    name: str
    declared: str  # the Snowflake type of the column
    wire: pa.DataType  # the Arrow type written to the staged Parquet file


def staged_columns(table: TableRef, schema: pa.Schema) -> list[StagedColumn]:
    """Every lake column as Snowflake holds it; the first one it cannot hold is refused."""
    return [_column(table, field) for field in schema]


def _column(table: TableRef, field: pa.Field) -> StagedColumn:
    kind = field.type
    if holds_infinities(field):
        raise _refused(
            table,
            field,
            "holds +/-infinity, which Snowflake's DATE and TIMESTAMP cannot",
            "map infinity to a date in a view on the source, or load it into PostgreSQL",
        )
    if isinstance(kind, pa.UuidType):
        return StagedColumn(field.name, "VARCHAR(36)", pa.string())
    if isinstance(kind, pa.BaseExtensionType):  # arrow.json and the like: by their storage
        return _column(table, field.with_type(kind.storage_type))
    if pa.types.is_null(kind):
        return StagedColumn(field.name, "VARCHAR", pa.string())
    if pa.types.is_boolean(kind):
        return StagedColumn(field.name, "BOOLEAN", kind)
    if pa.types.is_integer(kind):
        return StagedColumn(field.name, "NUMBER(38,0)", kind)
    if pa.types.is_floating(kind):
        return StagedColumn(field.name, "FLOAT", pa.float64())
    if pa.types.is_decimal(kind):
        if kind.precision > MAX_PRECISION or kind.scale < 0:
            raise _refused(
                table,
                field,
                f"is decimal({kind.precision},{kind.scale}); Snowflake's NUMBER "
                f"holds at most {MAX_PRECISION} digits and a scale from 0",
                "declare the source column with a precision of 38 or less (numeric(38,s)) "
                "or cast it to text in a view on the source",
            )
        wire = kind if pa.types.is_decimal128(kind) else pa.decimal128(kind.precision, kind.scale)
        return StagedColumn(field.name, f"NUMBER({kind.precision},{kind.scale})", wire)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return StagedColumn(field.name, "VARCHAR", pa.string())
    if (
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
        or pa.types.is_binary_view(kind)
    ):
        return StagedColumn(field.name, "BINARY", pa.binary())
    if pa.types.is_date(kind):
        return StagedColumn(field.name, "DATE", pa.date32())
    if pa.types.is_timestamp(kind):
        zone = "TZ" if kind.tz else "NTZ"
        wire = pa.timestamp(kind.unit, "UTC") if kind.tz else kind
        return StagedColumn(field.name, f"TIMESTAMP_{zone}({_DIGITS[kind.unit]})", wire)
    if pa.types.is_time(kind):
        return StagedColumn(field.name, f"TIME({_DIGITS[kind.unit]})", pa.time64("ns"))
    raise _refused(
        table,
        field,
        f"is {kind}, which no Snowflake column holds exactly",
        "leave the column out of the table's columns, or cast it to text in a view on the source",
    )


def _refused(table: TableRef, field: pa.Field, why: str, fix: str) -> TerminalError:
    return TerminalError(
        f"column {field.name!r} of sink table {table} {why}; nothing was loaded: {fix}"
    )


def writable(batch: pa.RecordBatch, columns: list[StagedColumn]) -> pa.RecordBatch:
    """`batch` in the staged files' types: extensions by their storage, a UUID as its text."""
    arrays = []
    for column, wanted in zip(batch.columns, columns, strict=True):
        if isinstance(column.type, pa.UuidType):
            column = pa.array([None if v is None else str(v) for v in column.to_pylist()])
        elif isinstance(column.type, pa.BaseExtensionType):
            column = column.storage
        if column.type != wanted.wire:
            column = column.cast(wanted.wire)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=[c.name for c in columns])
