"""Lake (Arrow) types as BigQuery declares them, and the batches as the loaded Parquet files
carry them. A type or value BigQuery cannot hold exactly is refused here, naming the column
and the fix, before anything is loaded: the value-fidelity rule allows no quiet change.

    lake                          BigQuery              note
    bool                          BOOL
    int8 .. int64, uint8 .. 32    INT64
    uint64                        NUMERIC(20,0)         beyond INT64: exact as a NUMERIC
    float16/32/64                 FLOAT64               float32 widens exactly
    decimal(p,s), s <= 9,         NUMERIC(p,s)
      p - s <= 29
    decimal(p,s), s <= 38,        BIGNUMERIC(p,s)
      p - s <= 38
    string, json                  STRING                JSON as its exact text
    uuid                          STRING                the canonical text
    binary, fixed binary          BYTES
    date32/date64                 DATE                  0001-01-01 .. 9999-12-31
    timestamp (no zone)           DATETIME              microseconds; finer digits refused
    timestamp (UTC)               TIMESTAMP             the instant, microseconds
    time32/time64                 TIME                  microseconds
    null (only NULLs so far)      STRING
    lists, structs, maps,         refused               no exact BigQuery column for them
    intervals, durations,
    +/-infinity dates
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from sluice.core.errors import TerminalError
from sluice.core.infinity import holds_infinities
from sluice.core.models import TableRef

# BigQuery's calendar: DATE, DATETIME and TIMESTAMP span these days and microseconds.
_FIRST_DAY, _LAST_DAY = -719162, 2932896
_FIRST_MICRO, _LAST_MICRO = -62135596800000000, 253402300799999999


@dataclass(frozen=True)
class StagedColumn:
    name: str
    declared: str  # the BigQuery type of the column
    wire: pa.DataType  # the Arrow type written to the loaded Parquet file


def staged_columns(table: TableRef, schema: pa.Schema) -> list[StagedColumn]:
    """Every lake column as BigQuery holds it; the first one it cannot hold is refused."""
    return [_column(table, field) for field in schema]


def _column(table: TableRef, field: pa.Field) -> StagedColumn:
    kind = field.type
    if holds_infinities(field):
        raise refused(
            table,
            field,
            "holds +/-infinity, which BigQuery's DATE, DATETIME and TIMESTAMP cannot",
            "map infinity to a date in a view on the source, or load it into PostgreSQL",
        )
    if isinstance(kind, pa.UuidType):
        return StagedColumn(field.name, "STRING", pa.string())
    if isinstance(kind, pa.BaseExtensionType):  # arrow.json and the like: by their storage
        return _column(table, field.with_type(kind.storage_type))
    if pa.types.is_null(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return StagedColumn(field.name, "STRING", pa.string())
    if pa.types.is_string_view(kind):
        return StagedColumn(field.name, "STRING", pa.string())
    if pa.types.is_boolean(kind):
        return StagedColumn(field.name, "BOOL", kind)
    if pa.types.is_uint64(kind):
        return StagedColumn(field.name, "NUMERIC(20,0)", pa.decimal128(20, 0))
    if pa.types.is_integer(kind):
        return StagedColumn(field.name, "INT64", pa.int64())
    if pa.types.is_floating(kind):
        return StagedColumn(field.name, "FLOAT64", pa.float64())
    if pa.types.is_decimal(kind):
        return _decimal(table, field)
    if (
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
        or pa.types.is_binary_view(kind)
    ):
        return StagedColumn(field.name, "BYTES", pa.binary())
    if pa.types.is_date(kind):
        return StagedColumn(field.name, "DATE", pa.date32())
    if pa.types.is_timestamp(kind):
        if kind.tz:
            return StagedColumn(field.name, "TIMESTAMP", pa.timestamp("us", "UTC"))
        return StagedColumn(field.name, "DATETIME", pa.timestamp("us"))
    if pa.types.is_time(kind):
        return StagedColumn(field.name, "TIME", pa.time64("us"))
    raise refused(
        table,
        field,
        f"is {kind}, which no BigQuery column holds exactly",
        "leave the column out of the table's columns, or cast it to text in a view on the source",
    )


def _decimal(table: TableRef, field: pa.Field) -> StagedColumn:
    kind = field.type
    digits = kind.precision - kind.scale
    if 0 <= kind.scale <= 9 and digits <= 29:
        return StagedColumn(field.name, f"NUMERIC({kind.precision},{kind.scale})", kind)
    if 0 <= kind.scale <= 38 and digits <= 38:
        return StagedColumn(field.name, f"BIGNUMERIC({kind.precision},{kind.scale})", kind)
    raise refused(
        table,
        field,
        f"is decimal({kind.precision},{kind.scale}); BigQuery's BIGNUMERIC holds at most 38 "
        "digits before the point and 38 after",
        "declare the source column within that (numeric(76,38) at most) or cast it to text "
        "in a view on the source",
    )


def refused(table: TableRef, field: pa.Field, why: str, fix: str) -> TerminalError:
    return TerminalError(
        f"column {field.name!r} of sink table {table} {why}; nothing was loaded: {fix}"
    )


def writable(table: TableRef, batch: pa.RecordBatch, columns: list[StagedColumn]) -> pa.RecordBatch:
    """`batch` in the loaded files' types. A value that would change on the way (a finer
    fraction of a second, a day outside BigQuery's calendar) fails, naming the column."""
    arrays = []
    for field, column, wanted in zip(batch.schema, batch.columns, columns, strict=True):
        if isinstance(column.type, pa.UuidType):
            column = pa.array([None if v is None else str(v) for v in column.to_pylist()])
        elif isinstance(column.type, pa.BaseExtensionType):
            column = column.storage
        if column.type != wanted.wire:
            try:
                column = column.cast(wanted.wire, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise refused(
                    table,
                    field,
                    f"holds a value BigQuery's {wanted.declared} cannot hold exactly ({exc})",
                    "round the values to microseconds (or the column's scale) in a view on "
                    "the source",
                ) from None
        _check_calendar(table, field, column, wanted)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=[c.name for c in columns])


def _check_calendar(
    table: TableRef, field: pa.Field, column: pa.Array, wanted: StagedColumn
) -> None:
    if wanted.declared == "DATE":
        numbers, first, last = column.cast(pa.int32()), _FIRST_DAY, _LAST_DAY
    elif wanted.declared in ("DATETIME", "TIMESTAMP"):
        numbers, first, last = column.cast(pa.int64()), _FIRST_MICRO, _LAST_MICRO
    else:
        return
    if column.null_count == len(column):
        return
    bounds = pc.min_max(numbers)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low < first or high > last:
        raise refused(
            table,
            field,
            f"holds a value outside BigQuery's {wanted.declared} range (years 1 to 9999)",
            "map such values to NULL or a date within the range in a view on the source",
        )
