"""Exact incremental selection on Arrow data, whatever the source pushed down.

A run reads rows with key >= watermark - look-back (the look-back is 0 unless configured).
Rows above the watermark are new. Rows at or below it, inside the window, are new unless an
earlier batch already holds that very row (same identity, stages/row_identity.py): so a row
committed late, with a key value at or below the last watermark, is picked up once, and a row
already extracted is not extracted twice. The new watermark is the largest key extracted
(never lower than the old one); the (key, identity) pairs of the rows held inside the next
window are stored beside the batch. Everything is vectorised: 500,000 rows sharing one key
value cost about what reading them costs.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.registry import widest_metadata
from sluice.core.errors import TerminalError
from sluice.core.infinity import refuse_infinite_key
from sluice.core.watermark import format_value, lookback_floor
from sluice.stages.row_identity import DIGEST, SCHEME_KEY, WINDOW_SCHEME, row_digests


def legacy_row_hashes(table: pa.Table | pa.RecordBatch) -> list[str]:
    """The identities windows held before the vectorised scheme (hex BLAKE2b of the row's
    repr): used only to read such a window once, after an upgrade."""
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


@dataclass(frozen=True)
class HeldRows:
    """The rows earlier batches hold inside the look-back window: (key, identity) pairs."""

    window: pa.Table | None = None
    _index: tuple[np.ndarray, np.ndarray] | None = dataclasses.field(
        default=None, compare=False, repr=False
    )

    @property
    def legacy(self) -> bool:
        """A window written before identities were vectorised: hex text, not 16 bytes."""
        return self.window is not None and pa.types.is_string(self.window.schema.field("hash").type)

    @property
    def scheme(self) -> bytes:
        """The identity scheme the window's digests are in."""
        metadata = (self.window.schema.metadata or {}) if self.window is not None else {}
        return bytes(metadata.get(SCHEME_KEY, WINDOW_SCHEME))

    def __len__(self) -> int:
        return 0 if self.window is None else self.window.num_rows

    def held(self, rows: pa.RecordBatch, digests: pa.Array) -> np.ndarray:
        """For each row, whether an earlier batch holds it already."""
        if self.window is None or self.window.num_rows == 0:
            return np.zeros(rows.num_rows, dtype=bool)
        if self.legacy:
            legacy = set(self.window.column("hash").to_pylist())
            return np.array([h in legacy for h in legacy_row_hashes(rows)], dtype=bool)
        if self.scheme != WINDOW_SCHEME:
            digests = row_digests(rows, self.scheme)  # an older scheme's window, read once
        high, low = self._sorted()
        probe = _halves(digests)
        at = np.searchsorted(high, probe[:, 0])
        at[at >= len(high)] = 0
        same_high = high[at] == probe[:, 0]
        found = same_high & (low[at] == probe[:, 1])
        # Two held digests sharing their first 8 bytes: searchsorted saw only the first.
        unsure = np.flatnonzero(same_high & ~found)
        if unsure.size:
            known = set(self.window.column("hash").to_pylist())
            values = digests.to_pylist()
            found[unsure] = [values[i] in known for i in unsure]
        held: np.ndarray = found
        return held

    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        # Sorted once per run; each batch is then a binary search, not a new hash table.
        if self._index is None:
            assert self.window is not None
            halves = _halves(self.window.column("hash").combine_chunks())
            order = np.lexsort((halves[:, 1], halves[:, 0]))
            object.__setattr__(self, "_index", (halves[order, 0], halves[order, 1]))
        assert self._index is not None
        return self._index

    def current(self) -> pa.Table | None:
        """The pairs in the current scheme, to carry into the next window (an older scheme's
        rows are carried by the filter, which saw them again and identified them anew)."""
        if self.window is None or self.legacy or self.scheme != WINDOW_SCHEME:
            return None
        return self.window


def _halves(digests: pa.Array) -> np.ndarray:
    """16-byte digests as rows of two little-endian unsigned 64-bit integers."""
    data = np.frombuffer(digests.buffers()[1], dtype="<u8")
    return data[2 * digests.offset : 2 * (digests.offset + len(digests))].reshape(-1, 2)


class IncrementalFilter:
    """Keeps rows after the watermark, and rows in the look-back window not already held.

    `floor` is the watermark minus the look-back window (the watermark itself without one).
    The rows it drops as held are kept in `carried` (key, identity), for the next window.
    """

    def __init__(
        self,
        key: str,
        since: Any,
        floor: Any,
        held: HeldRows | None = None,
        fallback: str | None = None,
    ) -> None:
        self.key = key
        self.since = since
        self.floor = since if floor is None else floor
        self.held = held or HeldRows()
        self.fallback = fallback
        self.carried: list[tuple[pa.Array, pa.Array]] = []

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
        positions = pc.indices_nonzero(in_window)
        candidates = batch.take(positions)
        digests = row_digests(candidates)
        held = self.held.held(candidates, digests)
        if held.any():
            mask = pa.array(held)
            self.carried.append((keys.take(positions).filter(mask), digests.filter(mask)))
        flags = np.asarray(newer.to_numpy(zero_copy_only=False), dtype=bool).copy()
        flags[np.asarray(positions.to_numpy(zero_copy_only=False))[~held]] = True
        return batch.filter(pa.array(flags))


class KeyTracker:
    """The key's range over everything written, and the rows inside the next look-back window.

    The window of the next run is every row held with key >= new watermark - look-back; it is
    gathered from this batch, the rows the filter dropped as held and the previous window,
    then stored beside the batch (`_window.parquet`) for the next run's filter.
    """

    def __init__(self, key: str, lookback: str | None = None, fallback: str | None = None) -> None:
        self.key = key
        self.lookback = lookback
        self.fallback = fallback
        self.min: Any = None
        self.max: Any = None
        self._pairs: list[tuple[pa.Array, pa.Array]] = []

    def update(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        keys = effective_key(batch, self.key, self.fallback)
        refuse_infinite_key(keys, self.key)
        bounds = pc.min_max(keys).as_py()
        low, high = bounds["min"], bounds["max"]
        if self.min is None or low < self.min:
            self.min = low
        if self.max is None or high > self.max:
            self.max = high
        floor = lookback_floor(self.max, self.lookback)
        selected = pc.greater_equal(keys, pa.scalar(floor, type=keys.type))
        if pc.any(selected).as_py():
            self._pairs.append((keys.filter(selected), row_digests(batch.filter(selected))))
        self._prune(floor)

    def _prune(self, floor: Any) -> None:
        kept = []
        for keys, digests in self._pairs:
            above = pc.greater_equal(keys, pa.scalar(floor, type=keys.type))
            if pc.all(above).as_py():
                kept.append((keys, digests))
            elif pc.any(above).as_py():
                kept.append((keys.filter(above), digests.filter(above)))
        self._pairs = kept

    def watermark(self, since: Any) -> Any:
        """The new watermark: never behind the old one, even when only late rows arrived."""
        if since is None:
            return self.max
        if self.max is None:
            return since
        return max(since, self.max)

    def window(
        self,
        since: Any,
        held: HeldRows | pa.Table | None,
        key_type: pa.DataType,
        carried: list[tuple[pa.Array, pa.Array]] | None = None,
    ) -> pa.Table:
        """(key, identity) of every row held at or after the next run's floor."""
        if isinstance(held, pa.Table) or held is None:
            held = HeldRows(held)
        floor = lookback_floor(self.watermark(since), self.lookback)
        pieces = [
            pa.table({"key": keys.cast(key_type), "hash": digests})
            for keys, digests in [*self._pairs, *(carried or [])]
        ]
        previous = held.current()
        if previous is not None and previous.num_rows:
            pieces.append(previous.select(["key", "hash"]).cast(_window_schema(key_type)))
        schema = _window_schema(key_type)
        if not pieces:
            return schema.empty_table()
        merged = pa.concat_tables([p.cast(schema) for p in pieces])
        if floor is not None:
            merged = merged.filter(
                pc.greater_equal(merged.column("key"), pa.scalar(floor, key_type))
            )
        unique = merged.group_by(["key", "hash"]).aggregate([])
        return unique.select(["key", "hash"]).cast(schema)

    def text(self, value: Any) -> str | None:
        return None if value is None else format_value(value)


def _window_schema(key_type: pa.DataType) -> pa.Schema:
    return pa.schema(
        [pa.field("key", key_type), pa.field("hash", DIGEST)],
        metadata={SCHEME_KEY: WINDOW_SCHEME},
    )


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
