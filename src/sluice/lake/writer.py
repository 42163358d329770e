"""Writing one batch: parts first, then the manifest, last and atomically.

Rows are buffered to about a row group (by rows or bytes, whichever comes first), so memory
stays bounded whatever the table's size and the Parquet files get few, large row groups.
A full row group is encoded and compressed on a writer thread (pyarrow releases the GIL)
while the next one fills, so reading the source and writing Parquet overlap; at most one
row group is in flight, so memory holds at most two.
"""

from __future__ import annotations

import ctypes
import dataclasses
import posixpath
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sluice.core.bounds import Bound, bounded, bounds_of, widest
from sluice.core.clock import iso, utcnow
from sluice.core.faults import crash_point
from sluice.core.infinity import count_infinities
from sluice.lake.errors import translates_storage_errors
from sluice.lake.layout import batch_dir_name, part_name
from sluice.lake.manifest import PENDING_NAME, WINDOW_NAME, Manifest, PartInfo
from sluice.lake.physical import physical_schema, to_physical
from sluice.lake.reader import LakeTable
from sluice.lake.store import HashingWriter

ROW_GROUP_ROWS = 1_000_000
ROW_GROUP_BYTES = 48 << 20
PART_ROWS = 20_000_000
WRITE_BUFFER_BYTES = 8 << 20


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc: its allocator returns memory by itself
        return None
    return trim


def release_freed_memory() -> None:
    """Hand the heap pages freed by a written row group back to the OS (glibc only).

    Drivers build batches with malloc, on their own threads, and the batches are freed here
    in another order; glibc keeps the holes this leaves resident, so without a trim the
    process grew with the table (measured on a PostgreSQL extract: 264 MB peak after 1M
    rows, 303 MB after 5M; with it, 261 and 266). One trim per row group costs microseconds.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@translates_storage_errors
class BatchWriter:
    """Writes one new batch of a lake table. Nothing is visible until `commit`."""

    def __init__(
        self,
        table: LakeTable,
        run_id: int,
        schema: pa.Schema,
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        row_group_bytes: int = ROW_GROUP_BYTES,
        part_rows: int = PART_ROWS,
        compacting: tuple[int, str] | None = None,
        partition: tuple[str, str] | None = None,
    ) -> None:
        """`compacting`: (sequence, directory name) of a compacted batch, written beside the
        batches it replaces (stages/compaction.py) rather than as the table's next one.
        `partition`: (batch directory, part name prefix) of one range of a partitioned read,
        whose parts `finish_parts` hands to the batch's own writer (`adopt`)."""
        self.table = table
        self.run_id = run_id
        self.schema = schema  # the columns' own types: the manifest's
        self.stored = physical_schema(schema)  # the files' (lake/physical.py)
        self.row_group_rows = row_group_rows
        self.row_group_bytes = row_group_bytes
        self.part_rows = part_rows
        # Taken before the leftovers of a killed run are removed, so a stage log naming their
        # files does not name this batch's too. A number is only ever reused if it was never
        # published (an aborted writer removes its directory), so no sink can hold it.
        self._prefix = ""
        if partition is not None:
            self.sequence = 0
            self.dir, self._prefix = partition
        elif compacting is None:
            self.sequence = table.newest_sequence() + 1
            self._discard_uncommitted()
            self.dir = posixpath.join(table.dir, batch_dir_name(self.sequence))
        else:
            self.sequence = compacting[0]
            self.dir = posixpath.join(table.dir, compacting[1])
        table.store.make_dirs(self.dir)
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._buffered_bytes = 0
        self._parts: list[PartInfo] = []
        self._sink: HashingWriter | None = None
        self._writer: pq.ParquetWriter | None = None
        self._stream: pa.NativeFile | None = None
        self._part_rows = 0
        self._encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sluice-parquet")
        self._in_flight: Future[None] | None = None
        self.rows = 0  # rows handed to the Parquet writer
        self.seen = 0  # rows accepted so far, buffered or written
        self.values: dict[str, int] = {}  # non-NULL values per column, of the rows accepted
        self.infinities: dict[str, int] = {}  # infinite dates and timestamps per column
        # (min, max) per column of a kind that has them; None once one cannot be kept (NaN).
        self.bounds: dict[str, tuple[Bound, Bound] | None] = {}

    def _discard_uncommitted(self) -> None:
        """Remove batch directories that never got a manifest: leftovers of a killed run.

        Only one hop-1 run per table writes at a time, so no live writer owns them.
        """
        committed = {ref.sequence for ref in self.table.batches()}
        for sequence, path in self.table.batch_dirs().items():
            if sequence not in committed:
                self.table.store.delete_dir(path)

    @property
    def part_paths(self) -> list[str]:
        return [posixpath.join(self.dir, part.path) for part in self._parts]

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if batch.schema != self.schema:
            batch = batch.cast(self.schema)
        elif self.seen == 0 and not batch.schema.equals(self.schema, check_metadata=True):
            # Same columns, other field metadata (a PostgreSQL enum's labels): the read's
            # catalog is from the rows' own snapshot, the planned schema from a check just
            # before, so a label added in between is recorded as the rows carry it.
            self.schema = batch.schema
            self.stored = physical_schema(batch.schema)
        if self.seen == 0 and self.table.store.catalog is not None:
            self.table.store.catalog.prefetch()  # for the publication, while the read goes on
        self.seen += batch.num_rows
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            self.values[name] = self.values.get(name, 0) + len(column) - column.null_count
            infinite = count_infinities(column)
            if infinite:
                self.infinities[name] = self.infinities.get(name, 0) + infinite
            self._widen_bounds(name, column)
        self._buffer.append(batch)
        self._buffered_rows += batch.num_rows
        self._buffered_bytes += batch.nbytes
        if (
            self._buffered_rows >= self.row_group_rows
            or self._buffered_bytes >= self.row_group_bytes
        ):
            self._flush()

    def _widen_bounds(self, name: str, column: pa.Array) -> None:
        if not bounded(column.type) or self.bounds.get(name, ()) is None:
            return
        if pa.types.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py():
            self.bounds[name] = None  # engines order NaN differently: no bounds to compare
            return
        found = bounds_of(column)  # None: only NULLs in this batch
        if found is not None:
            held = self.bounds.get(name)
            self.bounds[name] = found if held is None else widest(held, found)

    def _flush(self) -> None:
        if not self._buffer:
            return
        table = to_physical(pa.Table.from_batches(self._buffer, schema=self.schema), self.stored)
        self._buffer, self._buffered_rows, self._buffered_bytes = [], 0, 0
        self._settle()
        # Parts are opened and closed here, never on the encoder thread, so a part's file
        # exists (or is closed) by the time write() returns.
        if self._writer is None or self._part_rows >= self.part_rows:
            self._close_part()
            self._open_part()
        assert self._writer is not None
        self._part_rows += table.num_rows
        self.rows += table.num_rows
        self._in_flight = self._encoder.submit(
            self._writer.write_table, table, row_group_size=max(table.num_rows, 1)
        )

    def _settle(self) -> None:
        """Wait for the row group in flight; its error, if any, is raised here."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()
            release_freed_memory()

    def _open_part(self) -> None:
        name = self._prefix + part_name(len(self._parts))
        self._sink = self.table.store.open_write(posixpath.join(self.dir, name))
        # The encoder thread writes pages into a native buffer and reaches the Python sink
        # once per WRITE_BUFFER_BYTES: each call into Python needs the GIL, which a driver
        # reading on the main thread (connectorx) holds for a whole batch at a time, so
        # writing page by page stalled the encoder behind every read.
        self._stream = pa.BufferedOutputStream(
            pa.PythonFile(self._sink, mode="w"), buffer_size=WRITE_BUFFER_BYTES
        )
        self._writer = pq.ParquetWriter(
            self._stream,
            self.stored,
            compression="zstd",
            # Dictionary encoding fills a dictionary for every column and falls back to plain
            # for the many-valued ones (keys, timestamps, emails) after the work is done: on
            # bench/postgres_roundtrip.py's table it made writing 2x slower and the files 20%
            # larger; zstd already removes the repetition a dictionary would.
            use_dictionary=False,
            write_statistics=True,
        )
        self._part_rows = 0
        self._current_name = name

    def _close_part(self) -> None:
        if self._writer is None or self._sink is None or self._stream is None:
            return
        self._writer.close()
        self._stream.close()  # the buffer's rest reaches the sink before it closes
        self._sink.close()
        self._parts.append(
            PartInfo(
                path=self._current_name,
                rows=self._part_rows,
                bytes=self._sink.size,
                sha256=self._sink.sha256,
            )
        )
        self._writer = self._stream = None
        self._sink = None

    def finish_parts(self) -> dict[str, Any]:
        """A range's writer: its parts closed, and what `adopt` needs of them (JSON)."""
        self._flush()
        self._settle()
        self._encoder.shutdown()
        self._close_part()
        return {
            "parts": [dataclasses.asdict(part) for part in self._parts],
            "rows": self.rows,
            "values": self.values,
            "infinities": self.infinities,
            "bounds": {
                name: None if found is None else list(found) for name, found in self.bounds.items()
            },
        }

    def adopt(self, written: dict[str, Any]) -> None:
        """Take a range's parts (`finish_parts`, written into this batch's directory) as
        this batch's own, with their counts and bounds."""
        self._parts.extend(PartInfo(**part) for part in written["parts"])
        self.rows += int(written["rows"])
        self.seen += int(written["rows"])
        for name, count in written["values"].items():
            self.values[name] = self.values.get(name, 0) + int(count)
        for name, count in written["infinities"].items():
            self.infinities[name] = self.infinities.get(name, 0) + int(count)
        for name, found in written["bounds"].items():
            held = self.bounds.get(name)
            if found is None or (name in self.bounds and held is None):
                self.bounds[name] = None  # one range could not keep them (NaN)
            else:
                pair = (found[0], found[1])
                self.bounds[name] = pair if held is None else widest(held, pair)

    def commit(
        self, manifest: Manifest, window: pa.Table | None = None, *, publish: bool = True
    ) -> Manifest:
        """Finish the parts and publish the manifest; from here on the batch exists.

        With `publish=False` the manifest is written under PENDING_NAME instead: the batch is
        complete but invisible until `LakeTable.publish` (after verify_lake checked it).
        """
        self._flush()
        self._settle()
        self._encoder.shutdown()
        if self._writer is None and not self._parts:
            self._open_part()  # an empty table still gets one (empty) part with its schema
        self._close_part()
        window_part = self._write_window(window) if window is not None else None
        crash_point("lake:before_manifest")
        final = dataclasses.replace(
            manifest,
            sequence=self.sequence,
            run_id=self.run_id,
            created_at=iso(utcnow()) or "",
            row_count=self.rows,
            schema=self.schema,
            parts=tuple(self._parts),
            window=window_part,
            column_values={name: self.values.get(name, 0) for name in self.schema.names},
            column_infinities=dict(self.infinities),
            # Infinities are markers, which a sink gives back its own way: not compared.
            column_bounds={
                name: [low, high]
                for name, found in self.bounds.items()
                if found is not None and name not in self.infinities
                for low, high in [found]
            },
        )
        # Pending first in every case: a publication that dies before its manifest is
        # completed from it (LakeTable.committed).
        self.table.store.write_atomic(posixpath.join(self.dir, PENDING_NAME), final.to_json())
        if publish:
            self.table.publish(final, fenced_by=self.run_id)
        return final

    def _write_window(self, window: pa.Table) -> PartInfo:
        sink = self.table.store.open_write(posixpath.join(self.dir, WINDOW_NAME))
        with pq.ParquetWriter(pa.PythonFile(sink, mode="w"), window.schema) as writer:
            writer.write_table(window)
        sink.close()
        return PartInfo(path=WINDOW_NAME, rows=window.num_rows, bytes=sink.size, sha256=sink.sha256)

    def abort(self) -> None:
        written = list(self.part_paths)
        if self._writer is not None:
            written.append(posixpath.join(self.dir, self._current_name))
        if self._in_flight is not None:
            self._in_flight.exception()  # wait; the error that led here is already raised
        self._encoder.shutdown()
        if self._writer is not None:
            self._writer.close()
        if self._stream is not None:
            self._stream.close()
        if self._sink is not None:
            self._sink.close()
        if self._prefix:  # one range's writer: its own parts go, the batch's directory stays
            for path in written:
                with suppress(FileNotFoundError):  # an object store's upload never finished
                    self.table.store.delete_file(path)
            return
        self.table.store.delete_dir(self.dir)
