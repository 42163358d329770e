"""Exact incremental selection on Arrow data, whatever the source pushed down.

A run reads rows with key >= watermark. Rows above the watermark are new. Rows exactly at the
watermark are new unless an earlier batch already holds that very row (same content hash):
so a row that arrives later with the same key value as the last watermark is picked up, and a
row that was already extracted is not extracted twice. The new watermark is the largest key
extracted, and the hashes of the rows at that value travel in the batch's manifest.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sluice.core.errors import TerminalError
from sluice.core.watermark import format_value


def row_hashes(table: pa.Table | pa.RecordBatch) -> list[str]:
    """A content hash per row. Only ever applied to the few rows at a watermark value."""
    hashes = []
    for row in table.to_pylist():
        canonical = repr(sorted(row.items())).encode()
        hashes.append(hashlib.blake2b(canonical, digest_size=16).hexdigest())
    return hashes


class IncrementalFilter:
    """Drops rows at or below the watermark that earlier batches already hold."""

    def __init__(self, key: str, since: Any, held_at_since: set[str]) -> None:
        self.key = key
        self.since = since
        self.held_at_since = held_at_since

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        column = batch.column(self.key)
        if column.null_count:
            raise TerminalError(
                f"incremental key {self.key!r} is NULL in {column.null_count} row(s): a NULL "
                "key cannot be placed before or after the watermark; fill the column or pick "
                "a key that is never NULL"
            )
        if self.since is None:
            return batch
        since = pa.scalar(self.since, type=column.type)
        newer = pc.greater(column, since)
        at = pc.equal(column, since)
        if pc.any(at).as_py() and self.held_at_since:
            at_rows = batch.filter(at)
            fresh = [h not in self.held_at_since for h in row_hashes(at_rows)]
            positions = pc.indices_nonzero(at)
            keep_at = pa.array([False] * batch.num_rows)
            if any(fresh):
                flags = [False] * batch.num_rows
                for position, is_fresh in zip(positions.to_pylist(), fresh, strict=True):
                    flags[position] = is_fresh
                keep_at = pa.array(flags)
            return batch.filter(pc.or_(newer, keep_at))
        return batch.filter(pc.or_(newer, at))


class KeyTracker:
    """Minimum and maximum of the key over everything written, and the rows at the maximum."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.min: Any = None
        self.max: Any = None
        self._at_max: list[str] = []

    def update(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        column = batch.column(self.key)
        bounds = pc.min_max(column).as_py()
        low, high = bounds["min"], bounds["max"]
        if low is None:
            return
        if self.min is None or low < self.min:
            self.min = low
        if self.max is None or high > self.max:
            self.max = high
            self._at_max = []
        if high == self.max:
            at = batch.filter(pc.equal(column, pa.scalar(high, type=column.type)))
            self._at_max.extend(row_hashes(at))

    def boundary(self, since: Any, held_at_since: set[str]) -> tuple[str, ...]:
        """Hashes of all rows held at the new watermark, this batch's and earlier ones'."""
        hashes = set(self._at_max)
        if self.max is not None and since is not None and self.max == since:
            hashes |= held_at_since
        return tuple(sorted(hashes))

    def text(self, value: Any) -> str | None:
        return None if value is None else format_value(value)


def check_compatible(old: pa.Schema, new: pa.Schema) -> None:
    """New columns are fine; a changed type must be a widening, else the run fails."""
    for field in new:
        index = old.get_field_index(field.name)
        if index < 0:
            continue
        before = old.field(index).type
        if before != field.type and not _widens(before, field.type):
            raise TerminalError(
                f"column {field.name!r} changed type from {before} to {field.type}: an "
                "incompatible change; reload the table in full or cast the column in the source"
            )


def _widens(old: pa.DataType, new: pa.DataType) -> bool:
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
    """One schema for several batches: every column, each at its widest type."""
    result = pa.schema([f.with_nullable(True) for f in schemas[0]])
    for schema in schemas[1:]:
        check_compatible(result, schema)
        fields = {f.name: f for f in result}
        for field in schema:
            if field.name not in fields or field.type != fields[field.name].type:
                fields[field.name] = field.with_nullable(True)
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
