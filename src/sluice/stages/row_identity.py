"""A row's identity for the look-back window: a 128-bit BLAKE2b digest of its exact content.

Only the rows at or near the watermark are identified, but those may be every row of a table
(500,000 rows updated to one timestamp): the encoding is vectorised. Each row becomes one
byte string, canonical and injective:

    fixed part   per column, in column-name order: a validity byte, then the value's
                 little-endian bytes (zeros where NULL) for fixed-width types, or its byte
                 length (8 bytes) for strings and binaries
    var part     the strings' and binaries' bytes, in the same column order

so NULL and '' differ, 0.0 and -0.0 differ (as they do in the source), and no value can run
into the next. Nested and other types are encoded by their Python repr. Each row's bytes are
prefixed with a digest of the table's column names and types, so rows of another shape never
match (the digest is salted with it). BLAKE2b is Python's own (a standard digest of exact
bytes: no library's hashing or text rendering is involved, so identities stay the same across
versions); the scheme's name is stored with every window (`WINDOW_SCHEME`).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WINDOW_SCHEME = b"blake2b-128/v2"
SCHEME_KEY = b"sluice.row_identity"
DIGEST = pa.binary(16)


def row_digests(batch: pa.RecordBatch) -> pa.Array:
    """One 16-byte digest per row."""
    n = batch.num_rows
    if n == 0:
        return pa.array([], type=DIGEST)
    fixed: list[np.ndarray] = []
    variable: list[pa.Array] = []
    for name in sorted(batch.schema.names):
        _encode(batch.column(name), n, fixed, variable)
    width = sum(part.shape[1] for part in fixed)
    rows = np.ascontiguousarray(np.hstack(fixed)) if fixed else np.zeros((n, 0), np.uint8)
    encoded: pa.Array = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), n, [None, pa.py_buffer(rows.tobytes())]
    ).cast(pa.large_binary())
    if variable:
        encoded = pc.binary_join_element_wise(encoded, *variable, pa.scalar(b"", pa.large_binary()))
    # One salted state, copied per row: cheaper than building a new one with its parameters.
    copy = hashlib.blake2b(digest_size=16, salt=_schema_salt(batch.schema)).copy

    def digest(value: bytes) -> bytes:
        state = copy()
        state.update(value)
        return state.digest()

    return pa.array([digest(value) for value in encoded.to_pylist()], type=DIGEST)


def _schema_salt(schema: pa.Schema) -> bytes:
    def value_type(kind: pa.DataType) -> pa.DataType:
        # A dictionary-encoded column is identified by its values, as its plain form is.
        return kind.value_type if pa.types.is_dictionary(kind) else kind

    shape = "\x1f".join(
        f"{f.name}\x1e{value_type(f.type)}" for f in sorted(schema, key=lambda f: f.name)
    )
    return hashlib.blake2b(shape.encode(), digest_size=16).digest()


def _encode(column: pa.Array, n: int, fixed: list[np.ndarray], variable: list[pa.Array]) -> None:
    kind = column.type
    if pa.types.is_dictionary(kind):
        _encode(column.dictionary_decode(), n, fixed, variable)
        return
    valid = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=np.uint8)
    fixed.append(valid.reshape(n, 1))
    if pa.types.is_null(kind):
        return
    if pa.types.is_boolean(kind):
        fixed.append(_numbers(pc.fill_null(column, False).cast(pa.uint8()), n))
        return
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        fixed.append(_numbers(pc.fill_null(column, pa.scalar(0, kind)), n))
        return
    if (
        pa.types.is_timestamp(kind)
        or pa.types.is_date(kind)
        or pa.types.is_time(kind)
        or pa.types.is_duration(kind)
    ):
        as_int = column.cast(pa.int64() if kind.bit_width == 64 else pa.int32())
        fixed.append(_numbers(pc.fill_null(as_int, 0), n))
        return
    if pa.types.is_decimal(kind) or pa.types.is_fixed_size_binary(kind):
        width = kind.byte_width
        filled = column if column.null_count == 0 else _zero_nulls(column)
        data = np.frombuffer(filled.buffers()[1], dtype=np.uint8)
        start = filled.offset * width
        fixed.append(data[start : start + n * width].reshape(n, width))
        return
    if not (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    ):
        # Lists, structs, maps and the rest: their Python values' repr, exact and stable.
        column = pa.array([repr(value) for value in column.to_pylist()], type=pa.large_string())
    as_bytes = column.cast(pa.large_binary())
    lengths = pc.fill_null(pc.binary_length(as_bytes), 0).cast(pa.int64())
    fixed.append(_numbers(lengths, n))
    variable.append(pc.fill_null(as_bytes, pa.scalar(b"", pa.large_binary())))


def _numbers(column: pa.Array, n: int) -> np.ndarray:
    values = column.to_numpy(zero_copy_only=False)
    little = values.astype(values.dtype.newbyteorder("<"), copy=False)
    return np.ascontiguousarray(little).view(np.uint8).reshape(n, values.dtype.itemsize)


def _zero_nulls(column: pa.Array) -> pa.Array:
    """The column with NULL slots holding zero bytes (their buffer content is undefined)."""
    width = column.type.byte_width
    data = np.frombuffer(column.buffers()[1], dtype=np.uint8)
    start = column.offset * width
    values = data[start : start + len(column) * width].reshape(len(column), width).copy()
    values[~np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)] = 0
    return pa.Array.from_buffers(column.type, len(column), [None, pa.py_buffer(values.tobytes())])
