"""The smallest and largest value of a column, comparable between the lake and any sink.

A lake batch records them per column (Manifest.column_bounds) and verify_sink asks the sink
for its own: a value a driver or type mapping changed on the way (an integer read with the
wrong sign, a timestamp shifted, digits cut) moves a bound far more often than it leaves
one alone, at the cost of one min/max per column. Bounds are kept in one canonical form per
kind of value: integers (dates as days and timestamps as microseconds since 1970, UTC),
floats, and decimals as their exact text.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pyarrow as pa
import pyarrow.compute as pc

Bound = int | float | str


def bounded(kind: pa.DataType) -> bool:
    """Whether a lake column of this type records bounds."""
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_date32(kind)
        or pa.types.is_timestamp(kind)
    )


def bounds_of(column: pa.Array | pa.ChunkedArray) -> tuple[Bound, Bound] | None:
    """(min, max) of the non-NULL values, or None when there are none or when a float
    column holds NaN (engines order NaN differently)."""
    values = _comparable(column)
    if pa.types.is_floating(values.type) and pc.any(pc.is_nan(values)).as_py():
        return None
    found = pc.min_max(values).as_py()
    low, high = found["min"], found["max"]
    if low is None or high is None:
        return None
    return _canonical(low), _canonical(high)


def first_value(column: pa.Array | pa.ChunkedArray) -> Bound | None:
    """The first value of a column (a sink's min() or max()), in canonical form."""
    value = _comparable(column)[0].as_py()
    return None if value is None else _canonical(value)


def _comparable(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Dates as days and timestamps as microseconds (no calendar to overflow), a database's
    decimal text as text."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if isinstance(column.type, pa.ExtensionType):
        column = column.storage
    kind = column.type
    if pa.types.is_date64(kind):
        column, kind = column.cast(pa.date32()), pa.date32()
    if pa.types.is_date32(kind):
        return column.view(pa.int32())
    if pa.types.is_timestamp(kind):
        return column.cast(pa.timestamp("us", kind.tz)).view(pa.int64())
    return column


def _canonical(value: object) -> Bound:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    return str(value)  # a decimal, or a database's decimal text


def widest(one: tuple[Bound, Bound], other: tuple[Bound, Bound]) -> tuple[Bound, Bound]:
    low = one[0] if _less(one[0], other[0]) else other[0]
    high = other[1] if _less(one[1], other[1]) else one[1]
    return low, high


def same(lake: Bound, sink: Bound) -> bool:
    if isinstance(lake, str) or isinstance(sink, str):
        try:
            return Decimal(str(lake)) == Decimal(str(sink))
        except InvalidOperation:
            return False
    return lake == sink


def _less(one: Bound, other: Bound) -> bool:
    if isinstance(one, str) or isinstance(other, str):
        return Decimal(str(one)) < Decimal(str(other))
    return one < other
