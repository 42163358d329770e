"""A row's identity for the look-back window: a 128-bit BLAKE2b digest of its exact content.

Only the rows at or near the watermark are identified, but those may be every row of a table
(500,000 rows updated to one timestamp): the encoding is vectorised. Each row becomes one byte
string, canonical and injective (scheme v3):

    per column, in column-name order, when the row's value is not NULL: a 16-byte tag (a
    digest of the column's name and type), then the value's little-endian bytes for
    fixed-width types, or its byte length (8 bytes) and its bytes for strings and binaries;
    nothing for a NULL

The tag says which column comes next and how wide its value is, so no value can run into the
next, '' differs from NULL, 0.0 from -0.0 (as they do in the source), and a value of one type
never matches the same bytes of another. A NULL leaves no trace, so a row keeps its identity
when a column is added to the table (its value NULL in the rows read before): the rows the
look-back window reads again after such a change are known as held, not appended twice.
Nested and other types are encoded by their Python repr. BLAKE2b is Python's own (a standard
digest of exact bytes: no library's hashing or text rendering is involved, so identities stay
the same across versions); the scheme's name is stored with every window (`WINDOW_SCHEME`).

Scheme v2 (each row's columns with a validity byte, the digest salted with the table's
shape) is kept to read the windows written with it, once.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WINDOW_SCHEME = b"blake2b-128/v3"
SCHEME_V2 = b"blake2b-128/v2"
SCHEME_KEY = b"sluice.row_identity"
DIGEST = pa.binary(16)
_EMPTY = pa.scalar(b"", pa.large_binary())


def row_digests(batch: pa.RecordBatch, scheme: bytes = WINDOW_SCHEME) -> pa.Array:
    """One 16-byte digest per row, in `scheme` (the current one unless reading an older
    window)."""
    if scheme == SCHEME_V2:
        return _row_digests_v2(batch)
    if scheme != WINDOW_SCHEME:
        raise ValueError(f"unknown row identity scheme {scheme!r}")
    n = batch.num_rows
    if n == 0:
        return pa.array([], type=DIGEST)
    parts = [
        part
        for name in sorted(batch.schema.names)
        if (part := _tagged(name, batch.column(name), n)) is not None
    ]
    if not parts:
        encoded: pa.Array = pa.array([b""] * n, type=pa.large_binary())
    elif len(parts) == 1:
        encoded = parts[0]
    else:
        encoded = pc.binary_join_element_wise(*parts, _EMPTY)
    copy = hashlib.blake2b(digest_size=16, person=b"sluice.rowid.v3").copy

    def digest(value: bytes) -> bytes:
        state = copy()
        state.update(value)
        return state.digest()

    return pa.array([digest(value) for value in encoded.to_pylist()], type=DIGEST)


def _tagged(name: str, column: pa.Array, n: int) -> pa.Array | None:
    """Each row's bytes for this column: its tag and value, or b"" where it is NULL; None
    when every row is NULL."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if column.null_count == n:
        return None
    fixed: list[np.ndarray] = []
    variable: list[pa.Array] = []
    _encode(column, n, fixed, variable)
    tag = hashlib.blake2b(f"{name}\x1e{column.type}".encode(), digest_size=16).digest()
    # fixed[0] is the validity byte, which v3 leaves out: a NULL is no bytes at all.
    head = [np.tile(np.frombuffer(tag, dtype=np.uint8), (n, 1)), *fixed[1:]]
    width = sum(part.shape[1] for part in head)
    rows = np.ascontiguousarray(np.hstack(head))
    tagged: pa.Array = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), n, [None, pa.py_buffer(rows.tobytes())]
    ).cast(pa.large_binary())
    if variable:
        tagged = pc.binary_join_element_wise(tagged, *variable, _EMPTY)
    if column.null_count:
        tagged = pc.if_else(column.is_valid(), tagged, _EMPTY)
    return tagged


def _row_digests_v2(batch: pa.RecordBatch) -> pa.Array:
    """Scheme v2: validity bytes and values of every column, salted with the shape."""
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
