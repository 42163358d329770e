"""Values PostgreSQL cannot hold, found before binary COPY sends them.

The driver reports some of them with nothing but `Error occurred writing COPY data:` (a
timestamp whose shift to PostgreSQL's epoch overflows) and the server the others with the
staging table's COPY line, which is not a row anyone can find. Checked per batch with one
min/max per date, time or timestamp column, the failure names the sink table, the column,
the value and the row's key instead, before anything is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.datetime_text import datetime_text
from sluice.connectors.postgres.writing import POSTGRES_SPELLING
from sluice.core.errors import TerminalError
from sluice.core.infinity import DATE_INFINITY, TIMESTAMP_INFINITY
from sluice.core.models import TableRef

_DAY_MICROSECONDS = 86_400_000_000


@dataclass(frozen=True)
class Range:
    storage: pa.DataType  # the integers the Arrow type holds
    lowest: int
    highest: int
    described: str


# PostgreSQL's own limits (its documentation's "Date/Time Types"), in the lake's units.
# Timestamps reach 294276 AD there, beyond any int64 microsecond since 1970 but the lake's
# infinity marker, which a column loaded by binary COPY must not hold.
_DATES = Range(pa.int32(), -2_440_588, 2_145_042_905, "4714-11-24 BC to 5874897-12-31")
_TIMESTAMPS = Range(
    pa.int64(), -2_440_588 * _DAY_MICROSECONDS, TIMESTAMP_INFINITY - 1, "4714-11-24 BC to 294276 AD"
)
_TIMES = Range(pa.int64(), 0, _DAY_MICROSECONDS, "00:00:00 to 24:00:00")
assert _DATES.highest < DATE_INFINITY


def _range_of(kind: pa.DataType) -> Range | None:
    if pa.types.is_date32(kind):
        return _DATES
    if pa.types.is_timestamp(kind) and kind.unit == "us":
        return _TIMESTAMPS
    if pa.types.is_time64(kind) and kind.unit == "us":
        return _TIMES
    return None


def refuse_out_of_range(batch: pa.RecordBatch, table: TableRef, key: tuple[str, ...]) -> None:
    """Raise naming the first value of `batch` (as COPY will send it) PostgreSQL cannot hold."""
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        limits = _range_of(column.type)
        if limits is None or len(column) == column.null_count:
            continue
        ints = column.view(limits.storage)
        bounds = pc.min_max(ints).as_py()
        if limits.lowest <= bounds["min"] and bounds["max"] <= limits.highest:
            continue
        outside = pc.or_(pc.less(ints, limits.lowest), pc.greater(ints, limits.highest))
        row = pc.index(outside, True).as_py()
        raise TerminalError(
            f"column {name!r} of sink table {table} would get {_shown(column, row)}"
            f"{_row_key(batch, key, row)}, outside PostgreSQL's range for {column.type} "
            f"({limits.described}); nothing was loaded. Correct the value in the source, "
            "leave the row out in a view there, or load the table into DuckDB"
        )


def _shown(column: pa.Array, row: int) -> str:
    value = column.slice(row, 1)
    if pa.types.is_time64(value.type):  # Python's time cannot say 25:00:00
        micros = value.view(pa.int64())[0].as_py()
        seconds, fraction = divmod(micros, 1_000_000)
        return f"'{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{fraction:06d}'"
    return repr(datetime_text(value, POSTGRES_SPELLING)[0].as_py())


def _row_key(batch: pa.RecordBatch, key: tuple[str, ...], row: int) -> str:
    present = [k for k in key if k in batch.schema.names]
    if not present:
        return f" in row {row + 1} of a batch"
    values = ", ".join(f"{k}={batch.column(k)[row].as_py()!r}" for k in present)
    return f" in the row with {values}"
