"""The lake's physical column types: types every engine and Apache Iceberg hold, exactly.

A lake column keeps its own (logical) Arrow type in the batch's manifest, which is what every
sluice reader hands on. In the Parquet files a column whose type Iceberg lacks is stored as
one it has, without losing a value, and read back as its own type:

    uint8, uint16          int32              (every value fits)
    uint32                 int64
    uint64                 decimal(20, 0)     (0 .. 18446744073709551615 fit in 20 digits)
    float16                float32            (every half is a float)
    decimal over 38 digits string             (the exact digits, e.g. "12.3400")
    time64 ns, timestamp ns, duration         int64 (the count of the type's unit)
    timestamp in a zone    timestamp UTC      (the same instants; the zone is the manifest's)
    month_day_nano interval struct<months int32, days int32, nanoseconds int64>
    null (no value yet)    string             (all NULL)
    an extension (json)    its storage type   (the extension is the manifest's)

Nested types (lists, structs) are mapped element by element. A type with no mapping here and
none in Iceberg (fixed-size lists or maps of the above) is refused when the batch is planned,
naming the column. `sluice.lake_type` in a mapped field's metadata names its own type, for
engines that read the files without sluice.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sluice.core.errors import TerminalError

LAKE_TYPE_KEY = b"sluice.lake_type"
INTERVAL_FIELDS = (("months", pa.int32()), ("days", pa.int32()), ("nanoseconds", pa.int64()))
INTERVAL_STRUCT = pa.struct([pa.field(name, kind) for name, kind in INTERVAL_FIELDS])
_INTERVAL_RECORD = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanoseconds", "<i8")])
_MAX_ICEBERG_DIGITS = 38

_Convert = Callable[[pa.Array, pa.DataType], pa.Array]


def physical_type(kind: pa.DataType, column: str = "?") -> pa.DataType:
    """The type `kind` is stored as in the lake's files (itself where Iceberg has it)."""
    if isinstance(kind, pa.BaseExtensionType):  # arrow.json, arrow.uuid, ...: by their storage
        return physical_type(kind.storage_type, column)
    if pa.types.is_uint8(kind) or pa.types.is_uint16(kind):
        return pa.int32()
    if pa.types.is_uint32(kind):
        return pa.int64()
    if pa.types.is_uint64(kind):
        return pa.decimal128(20, 0)
    if pa.types.is_float16(kind):
        return pa.float32()
    if pa.types.is_decimal(kind) and kind.precision > _MAX_ICEBERG_DIGITS:
        return pa.string()
    if pa.types.is_decimal256(kind):
        return pa.decimal128(kind.precision, kind.scale)
    if pa.types.is_duration(kind) or (pa.types.is_time64(kind) and kind.unit == "ns"):
        return pa.int64()
    if pa.types.is_timestamp(kind):
        if kind.unit == "ns":
            return pa.int64()
        unit = "us" if kind.unit in ("s", "ms") else kind.unit
        zone = None if kind.tz is None else "UTC"
        return pa.timestamp(unit, zone)
    if kind == pa.month_day_nano_interval():
        return INTERVAL_STRUCT
    if pa.types.is_null(kind):
        return pa.string()
    if pa.types.is_list(kind):
        return pa.list_(_physical_field(kind.value_field, column))
    if pa.types.is_large_list(kind):
        return pa.large_list(_physical_field(kind.value_field, column))
    if pa.types.is_struct(kind):
        return pa.struct([_physical_field(kind.field(i), column) for i in range(kind.num_fields)])
    if (pa.types.is_fixed_size_list(kind) or pa.types.is_map(kind)) and _needs_mapping(kind):
        raise TerminalError(
            f"column {column!r} is a {kind}, which the lake cannot store exactly (Iceberg has "
            "no such type and sluice maps none inside it): select it as text or JSON in a "
            "source view"
        )
    return kind


def _physical_field(field: pa.Field, column: str) -> pa.Field:
    return field.with_type(physical_type(field.type, column))


def _needs_mapping(kind: pa.DataType) -> bool:
    children = [kind.field(i).type for i in range(kind.num_fields)]
    return any(physical_type(child) != child for child in children)


def physical_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of the lake's files for a batch of `schema` (field metadata kept)."""
    fields = []
    for field in schema:
        stored = physical_type(field.type, field.name)
        if stored != field.type:
            metadata = {**(field.metadata or {}), LAKE_TYPE_KEY: str(field.type).encode()}
            field = field.with_type(stored).with_metadata(metadata)
        fields.append(field)
    return pa.schema(fields, metadata=schema.metadata)


def to_physical(table: pa.Table, stored: pa.Schema) -> pa.Table:
    """`table` with every column in its stored type."""
    if table.schema.equals(stored):
        return table
    columns = [
        pa.chunked_array([_encode(chunk, field.type) for chunk in column.chunks], type=field.type)
        for column, field in zip(table.columns, stored, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=stored)


def to_logical(batch: pa.RecordBatch, logical: pa.Schema) -> pa.RecordBatch:
    """A batch read from the lake's files, with every column in its own type again."""
    if batch.schema.equals(logical):
        return batch
    columns = [
        _decode(column, field.type) for column, field in zip(batch.columns, logical, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, schema=logical)


def _encode(array: pa.Array, stored: pa.DataType) -> pa.Array:
    kind = array.type
    if kind == stored:
        return array
    if isinstance(array, pa.ExtensionArray):
        return _encode(array.storage, stored)
    if kind == pa.month_day_nano_interval():
        return _interval_to_struct(array)
    if pa.types.is_null(kind):
        return pa.nulls(len(array), stored)
    if _holds_special(kind):
        return _rebuild(array, stored, _encode)
    return array.cast(stored)


def _decode(array: pa.Array, logical: pa.DataType) -> pa.Array:
    if array.type == logical:
        return array
    if isinstance(logical, pa.BaseExtensionType):
        return pa.ExtensionArray.from_storage(logical, _decode(array, logical.storage_type))
    if logical == pa.month_day_nano_interval():
        return _struct_to_interval(array)
    if pa.types.is_null(logical):
        return pa.nulls(len(array))
    if _holds_special(logical):
        return _rebuild(array, logical, _decode)
    return array.cast(logical)


def _holds_special(kind: pa.DataType) -> bool:
    """Whether an interval, a null or an extension lies inside `kind`: types a cast cannot
    map."""
    if kind == pa.month_day_nano_interval() or pa.types.is_null(kind):
        return True
    if isinstance(kind, pa.BaseExtensionType):
        return True
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_struct(kind):
        return any(_holds_special(kind.field(i).type) for i in range(kind.num_fields))
    return False


def _rebuild(array: pa.Array, target: pa.DataType, convert: _Convert) -> pa.Array:
    """A list or struct array with its children converted one by one to `target`'s."""
    validity = array.is_valid() if array.null_count else None
    mask = None if validity is None else pc.invert(validity)
    if pa.types.is_struct(target):
        children = [
            convert(_child(array, i), target.field(i).type) for i in range(target.num_fields)
        ]
        return pa.StructArray.from_arrays(
            children, fields=[target.field(i) for i in range(target.num_fields)], mask=mask
        )
    values = convert(array.flatten(), target.value_type)
    offsets = pc.subtract(array.offsets, array.offsets[0])
    build = pa.LargeListArray if pa.types.is_large_list(target) else pa.ListArray
    return build.from_arrays(offsets, values, type=target, mask=mask)


def _child(array: pa.Array, index: int) -> pa.Array:
    """A struct's child with the struct's own slice applied (StructArray.field ignores it)."""
    flattened: list[pa.Array] = array.flatten()
    return flattened[index]


def _interval_to_struct(array: pa.Array) -> pa.Array:
    records = np.frombuffer(
        array.buffers()[1], dtype=_INTERVAL_RECORD, count=array.offset + len(array)
    )[array.offset :]
    mask = pc.is_null(array) if array.null_count else None
    return pa.StructArray.from_arrays(
        [pa.array(records[name]) for name, _ in INTERVAL_FIELDS],
        fields=list(INTERVAL_STRUCT),
        mask=mask,
    )


def _struct_to_interval(array: pa.Array) -> pa.Array:
    records = np.zeros(len(array), dtype=_INTERVAL_RECORD)
    for index, (name, _) in enumerate(INTERVAL_FIELDS):
        records[name] = _child(array, index).fill_null(0).to_numpy(zero_copy_only=False)
    validity = None
    if array.null_count:
        validity = pc.is_valid(array).buffers()[1]
    return pa.Array.from_buffers(
        pa.month_day_nano_interval(), len(array), [validity, pa.py_buffer(records.tobytes())]
    )
