"""How the lake holds 'infinity' and '-infinity' dates and timestamps.

Arrow and Parquet have no infinity for dates or timestamps. The lake uses the markers DuckDB
uses for its own (the largest value and its negation: microseconds for timestamps, days for
dates), so DuckDB reads a lake file's infinities as infinities, and every sink maps them to its
own or fails naming the column. A source maps its infinities to these; the lake counts them per
column (Manifest.column_infinities) so hop 2 knows before loading which columns hold any.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sluice.core.errors import TerminalError

TIMESTAMP_INFINITY = 2**63 - 1  # microseconds
DATE_INFINITY = 2**31 - 1  # days
# The field metadata key by which hop 2 tells a sink that a column holds infinities.
HOLDS_INFINITIES = b"sluice:infinities"


def marker(kind: pa.DataType) -> int | None:
    """The positive infinity marker of a lake type (its negation is -infinity), if it has one."""
    if pa.types.is_timestamp(kind) and kind.unit == "us":
        return TIMESTAMP_INFINITY
    if pa.types.is_date32(kind):
        return DATE_INFINITY
    return None


def _integers(array: pa.Array) -> pa.Array:
    return array.view(pa.int64() if pa.types.is_timestamp(array.type) else pa.int32())


def infinity_masks(array: pa.Array) -> tuple[pa.Array, pa.Array] | None:
    """(is infinity, is -infinity) per value, or None when the array holds neither."""
    top = marker(array.type)
    if top is None or len(array) == array.null_count:
        return None
    ints = _integers(array)
    bounds = pc.min_max(ints).as_py()
    if -top < bounds["min"] and bounds["max"] < top:
        return None
    return pc.equal(ints, top), pc.equal(ints, -top)


def count_infinities(array: pa.Array) -> int:
    masks = infinity_masks(array)
    if masks is None:
        return 0
    return int(pc.sum(pc.or_(*masks)).as_py() or 0)


def infinities(kind: pa.DataType, length: int, positive: bool) -> pa.Array:
    """`length` infinities (or -infinities) of a lake date or timestamp type."""
    top = marker(kind)
    assert top is not None
    storage = pa.int64() if pa.types.is_timestamp(kind) else pa.int32()
    return pa.array([top if positive else -top] * length, type=storage).view(kind)


def holds_infinities(field: pa.Field) -> bool:
    return bool(field.metadata and field.metadata.get(HOLDS_INFINITIES) == b"1")


def mark_infinite(schema: pa.Schema, columns: set[str]) -> pa.Schema:
    """`schema` with the named columns marked as holding infinities."""
    fields = []
    for field in schema:
        if field.name in columns and marker(field.type) is not None:
            field = field.with_metadata({**(field.metadata or {}), HOLDS_INFINITIES: b"1"})
        fields.append(field)
    return pa.schema(fields, metadata=schema.metadata)


def refuse_infinite_key(keys: pa.Array, column: str) -> None:
    """An incremental key cannot be infinite: no watermark lies after 'infinity'."""
    if count_infinities(keys):
        raise TerminalError(
            f"incremental key {column!r} holds 'infinity' or '-infinity', which cannot be a "
            "watermark (nothing comes after 'infinity'): pick another incremental key, or "
            f"read the table through a view that leaves those rows out (WHERE isfinite({column}))"
        )
