"""Exact incremental selection on Arrow data, whatever the source pushed down.

A run reads rows with key >= watermark - look-back (the look-back is 0 unless configured).
Rows above the watermark are new. Rows at or below it, inside the window, are new unless an
earlier batch already holds that very row (same content hash): so a row committed late, with a
key value at or below the last watermark, is picked up once, and a row already extracted is
not extracted twice. The new watermark is the largest key extracted (never lower than the old
one); the (key, hash) pairs of the rows inside the next window are stored beside the batch.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.postgres.types import widest_metadata
from sluice.core.errors import TerminalError
from sluice.core.watermark import format_value, lookback_floor


def row_hashes(table: pa.Table | pa.RecordBatch) -> list[str]:
    """A content hash per row. Only ever applied to the few rows at a watermark value."""
    hashes = []
    for row in table.to_pylist():
        canonical = repr(sorted(row.items())).encode()
        hashes.append(hashlib.blake2b(canonical, digest_size=16).hexdigest())
    return hashes


def effective_key(batch: pa.RecordBatch, key: str, fallback: str | None) -> pa.Array:
    """The key column, with the fallback column standing in where the key is NULL."""
    column = batch.column(key)
    if column.null_count and fallback is not None:
        column = pc.coalesce(column, batch.column(fallback).cast(column.type))
    if column.null_count:
        hint = (
            f"the fallback column {fallback!r} is NULL there too"
            if fallback
            else "fill the column, or name a column to use instead with "
            "`sluice table edit TABLE --null-key-fallback COL`"
        )
        raise TerminalError(
            f"incremental key {key!r} is NULL in {column.null_count} row(s): a NULL key cannot "
            f"be placed before or after the watermark; {hint}"
        )
    return column


class IncrementalFilter:
    """Keeps rows after the watermark, and rows in the look-back window not already held.

    `floor` is the watermark minus the look-back window (the watermark itself without one);
    `held` holds the content hashes of the rows earlier batches hold at or after `floor`.
    """

    def __init__(
        self, key: str, since: Any, floor: Any, held: set[str], fallback: str | None = None
    ) -> None:
        self.key = key
        self.since = since
        self.floor = since if floor is None else floor
        self.held = held
        self.fallback = fallback

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        keys = effective_key(batch, self.key, self.fallback)
        if self.since is None:
            return batch
        newer = pc.greater(keys, pa.scalar(self.since, type=keys.type))
        in_window = pc.and_(
            pc.greater_equal(keys, pa.scalar(self.floor, type=keys.type)),
            pc.invert(newer),
        )
        if not pc.any(in_window).as_py():
            return batch.filter(newer)
        positions = pc.indices_nonzero(in_window).to_pylist()
        hashes = row_hashes(batch.take(pa.array(positions, type=pa.int64())))
        flags = newer.to_pylist()
        for position, digest in zip(positions, hashes, strict=True):
            flags[position] = digest not in self.held
        return batch.filter(pa.array(flags, type=pa.bool_()))


class KeyTracker:
    """The key's range over everything written, and the rows inside the next look-back window.

    The window of the next run is every row held with key >= new watermark - look-back; it is
    gathered from this batch and carried over from the previous window, then stored beside the
    batch (`_window.parquet`) for the next run's filter.
    """

    def __init__(self, key: str, lookback: str | None = None, fallback: str | None = None) -> None:
        self.key = key
        self.lookback = lookback
        self.fallback = fallback
        self.min: Any = None
        self.max: Any = None
        self._keys: list[Any] = []
        self._hashes: list[str] = []

    def update(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        keys = effective_key(batch, self.key, self.fallback)
        bounds = pc.min_max(keys).as_py()
        low, high = bounds["min"], bounds["max"]
        if self.min is None or low < self.min:
            self.min = low
        if self.max is None or high > self.max:
            self.max = high
        floor = lookback_floor(self.max, self.lookback)
        selected = pc.greater_equal(keys, pa.scalar(floor, type=keys.type))
        if pc.any(selected).as_py():
            self._keys.extend(keys.filter(selected).to_pylist())
            self._hashes.extend(row_hashes(batch.filter(selected)))
        self._prune(floor)

    def _prune(self, floor: Any) -> None:
        if self._keys and min(self._keys) < floor:
            kept = [(k, h) for k, h in zip(self._keys, self._hashes, strict=True) if k >= floor]
            self._keys = [k for k, _ in kept]
            self._hashes = [h for _, h in kept]

    def watermark(self, since: Any) -> Any:
        """The new watermark: never behind the old one, even when only late rows arrived."""
        if since is None:
            return self.max
        if self.max is None:
            return since
        return max(since, self.max)

    def window(self, since: Any, held: pa.Table | None, key_type: pa.DataType) -> pa.Table:
        """(key, hash) of every row held at or after the next run's floor."""
        floor = lookback_floor(self.watermark(since), self.lookback)
        keys, hashes = list(self._keys), list(self._hashes)
        if held is not None and held.num_rows:
            keys += held.column("key").to_pylist()
            hashes += held.column("hash").to_pylist()
        pairs = sorted(
            {(k, h) for k, h in zip(keys, hashes, strict=True) if floor is None or k >= floor}
        )
        return pa.table(
            {
                "key": pa.array([k for k, _ in pairs], type=key_type),
                "hash": pa.array([h for _, h in pairs], type=pa.string()),
            }
        )

    def text(self, value: Any) -> str | None:
        return None if value is None else format_value(value)


def check_compatible(old: pa.Schema, new: pa.Schema) -> None:
    """New columns are fine; a changed type must be a widening, else the run fails.

    Only Arrow types count: field metadata (a source's declared types) may differ freely,
    and a sink judges a change of declared type against its own columns.
    """
    for field in new:
        index = old.get_field_index(field.name)
        if index < 0:
            continue
        before = old.field(index).type
        if before != field.type and not widens(before, field.type):
            raise TerminalError(
                f"column {field.name!r} changed type from {before} to {field.type}: an "
                "incompatible change (or cast the column in the source back to its old type)"
            )


def widens(old: pa.DataType, new: pa.DataType) -> bool:
    if pa.types.is_null(old):
        return True
    if pa.types.is_integer(old) and pa.types.is_integer(new):
        same_sign = pa.types.is_signed_integer(old) == pa.types.is_signed_integer(new)
        return bool(same_sign and new.bit_width >= old.bit_width)
    if pa.types.is_floating(old) and pa.types.is_floating(new):
        return bool(new.bit_width >= old.bit_width)
    if pa.types.is_integer(old) and pa.types.is_decimal(new):
        return True
    if pa.types.is_decimal(old) and pa.types.is_decimal(new):
        return bool(new.scale == old.scale and new.precision >= old.precision)
    strings = (pa.string(), pa.large_string())
    binaries = (pa.binary(), pa.large_binary())
    return (old in strings and new in strings) or (old in binaries and new in binaries)


def unify(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema for several batches, oldest first: every column, each at its widest type
    and with the widest declared type the batches were read with (`widest_metadata`: a
    source column that narrowed since an older batch must still take that batch's values)."""
    result = pa.schema([f.with_nullable(True) for f in schemas[0]])
    for schema in schemas[1:]:
        check_compatible(result, schema)
        fields = {f.name: f for f in result}
        for field in schema:
            held = fields.get(field.name)
            if held is None:
                fields[field.name] = field.with_nullable(True)
            elif field.type != held.type or field.metadata != held.metadata:
                metadata = widest_metadata(held.metadata, field.metadata)
                widest = field.with_nullable(True).remove_metadata()
                fields[field.name] = widest.with_metadata(metadata) if metadata else widest
        result = pa.schema(list(fields.values()))
    return result


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch in `schema`'s column order and types; columns it lacks are NULL."""
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, type=field.type))
        else:
            column = batch.column(index)
            arrays.append(column if column.type == field.type else column.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
