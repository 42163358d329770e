"""Reading committed batches. A batch directory without a manifest does not exist for readers."""

from __future__ import annotations

import posixpath
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pyarrow.parquet as pq

from sluice.core.errors import ConfigError, TerminalError
from sluice.core.faults import crash_point
from sluice.lake.errors import translates_storage_errors
from sluice.lake.layout import BATCH_DIR, table_dir
from sluice.lake.manifest import MANIFEST_NAME, PENDING_NAME, Manifest, current_batches
from sluice.lake.physical import physical_schema, to_logical
from sluice.lake.store import LakeStore

if TYPE_CHECKING:
    from pyiceberg.table import Table

READ_BUFFER = 1 << 20


@translates_storage_errors
class LakeTable:
    """The batches of one table in the lake."""

    def __init__(self, store: LakeStore, source_name: str, table: str) -> None:
        for what, name in (("source", source_name), ("table", table)):
            # Validation refuses such names on the way in; a row written straight into the
            # config database is caught here, before any path is built from it.
            if name in ("", ".", "..") or "/" in name or "\\" in name:
                raise ConfigError(
                    f"{what} name {name!r} cannot name a directory in the lake: fix that "
                    "row of the config database (pipeline_config) to a valid name"
                )
        self.store = store
        self.source_name = source_name
        self.table = table
        self.dir = table_dir(store, source_name, table)
        self._snapshots: dict[int, tuple[int, str]] | None = None

    @property
    def key(self) -> str:
        """How sinks name this lake table in their state."""
        return f"{self.source_name}/{self.table}"

    def batch_dirs(self) -> dict[int, str]:
        """Every batch directory, committed or not, by sequence."""
        found = {}
        for entry in self.store.list(self.dir):
            match = BATCH_DIR.match(posixpath.basename(entry.path))
            if entry.is_dir and match:
                found[int(match.group(1))] = entry.path
        return found

    def committed(self, *, complete: bool = True) -> list[Manifest]:
        """Manifests of committed batches, oldest first.

        A batch is committed once its Iceberg snapshot is (the publish point); its manifest
        follows. A batch whose process died between the two is completed here, on the first
        look after: its manifest written from the pending one. (`complete=False`: a run
        looking at the batches while its own is pending, which its publish completes.)
        """
        manifests = []
        unfinished = []
        for sequence, path in sorted(self.batch_dirs().items()):
            manifest_path = posixpath.join(path, MANIFEST_NAME)
            if not self.store.exists(manifest_path):
                unfinished.append((sequence, path))
                continue
            manifest = Manifest.from_json(self.store.read_bytes(manifest_path))
            if manifest.sequence == sequence:
                manifests.append(manifest)
        if complete and unfinished and self.store.catalog is not None:
            recorded = self.store.catalog.recorded(self)
            for sequence, path in unfinished:
                pending_path = posixpath.join(path, PENDING_NAME)
                if sequence in recorded and self.store.exists(pending_path):
                    manifest = Manifest.from_json(self.store.read_bytes(pending_path))
                    self._write_manifest(path, manifest)
                    manifests.append(manifest)
            manifests.sort(key=lambda m: m.sequence)
        return manifests

    def pending(self, run_id: int | None = None) -> list[Manifest]:
        """Batches `run_id` (None: any run) wrote and has not published yet (see
        BatchWriter.commit)."""
        found = []
        for sequence, path in sorted(self.batch_dirs().items()):
            pending_path = posixpath.join(path, PENDING_NAME)
            if self.store.exists(posixpath.join(path, MANIFEST_NAME)):
                continue
            if not self.store.exists(pending_path):
                continue
            manifest = Manifest.from_json(self.store.read_bytes(pending_path))
            if manifest.sequence == sequence and run_id in (None, manifest.run_id):
                found.append(manifest)
        return found

    def publish(self, manifest: Manifest, *, fenced_by: int | None = None) -> None:
        """Make a pending batch exist for every reader: its Iceberg snapshot committed (the
        publish point; once only, so a retry after it does not add the batch twice), then
        its manifest, written atomically. `fenced_by`: the publishing run, whose lock the
        commit requires (FencedOffError, nothing published, once it lost it)."""
        path = self.batch_dirs()[manifest.sequence]
        catalog = self.store.catalog
        table = None if catalog is None else catalog.load(self)
        if catalog is not None and manifest.sequence not in catalog.recorded(self, table):
            if (
                manifest.load_type != "full"
                and not manifest.reload
                and self.adopt(table, fenced_by=fenced_by)
            ):
                table = None  # adopted batches moved it on: commit on the table as it is now
            crash_point("lake:before_iceberg_commit")
            catalog.commit(self, manifest, self.part_paths(manifest), table, fenced_by=fenced_by)
            crash_point("lake:after_iceberg_commit")
        self._write_manifest(path, manifest)

    def described(self, manifest: Manifest) -> dict[str, Any]:
        """What `lake ls` and the API show of a batch: its summary and its Iceberg snapshot
        (id and operation; None for a batch no snapshot records)."""
        if self._snapshots is None:
            catalog = self.store.catalog
            self._snapshots = {} if catalog is None else catalog.snapshots(self)
        snapshot_id, operation = self._snapshots.get(manifest.sequence, (None, None))
        return {**manifest.summary(), "snapshot_id": snapshot_id, "operation": operation}

    def adopt(self, table: Table | None = None, *, fenced_by: int | None = None) -> list[int]:
        """Record in the Iceberg table the committed batches of the current table (the newest
        full one and those after it) that no snapshot records: a lake written before its
        tables were Iceberg tables (`sluice lake migrate`, or the next incremental batch
        does it). Returns the batches recorded now."""
        catalog = self.store.catalog
        if catalog is None:
            return []
        recorded = catalog.recorded(self, table)
        newest = max(recorded, default=0)
        missing = [m for m in current_batches(self.committed()) if m.sequence > newest]
        for earlier in missing:
            for part in self.part_paths(earlier)[:1]:
                stored, _ = self.part_footer(part)
                if not stored.equals(physical_schema(earlier.schema)):
                    raise TerminalError(
                        f"lake table {self.key}: batch {earlier.sequence} was written before "
                        "the lake's Iceberg types and holds a column Iceberg cannot take "
                        "exactly; reload the table (`sluice table reload`) to rewrite it"
                    )
        for earlier in missing:
            table = catalog.commit(
                self, earlier, self.part_paths(earlier), table, fenced_by=fenced_by
            )
        return [m.sequence for m in missing]

    def _write_manifest(self, path: str, manifest: Manifest) -> None:
        self.store.write_atomic(posixpath.join(path, MANIFEST_NAME), manifest.to_json())
        pending_path = posixpath.join(path, PENDING_NAME)
        if self.store.exists(pending_path):  # only tidiness: readers never look at it
            self.store.delete_file(pending_path)

    def batch_path(self, manifest: Manifest) -> str:
        return self.batch_dirs().get(manifest.sequence) or ""

    def part_paths(self, manifest: Manifest) -> list[str]:
        base = self.batch_path(manifest)
        return [posixpath.join(base, part.path) for part in manifest.parts]

    def read_window(self, manifest: Manifest) -> pa.Table | None:
        """The (key, hash) pairs a batch recorded for the next run's look-back window."""
        if manifest.window is None:
            return None
        path = posixpath.join(self.batch_path(manifest), manifest.window.path)
        with self.store.open_input(path) as handle:
            window: pa.Table = pq.read_table(handle)
        return window

    def part_footer(self, path: str) -> tuple[pa.Schema, pq.FileMetaData]:
        """A part's Arrow schema as stored (lake/physical.py) and Parquet footer (row count,
        column statistics)."""
        with self.store.open_input(path) as handle:
            parquet = pq.ParquetFile(handle)
            return parquet.schema_arrow, parquet.metadata

    def read(self, manifest: Manifest, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Stream a batch's rows, decoding the next batch while the caller uses this one.

        Memory stays at a few batches: pages are read as needed (no pre-buffering of whole
        row groups), and only one batch is decoded ahead.
        """
        return _read_ahead(self._decode(manifest, batch_rows))

    def _decode(self, manifest: Manifest, batch_rows: int) -> Iterator[pa.RecordBatch]:
        for path in self.part_paths(manifest):
            with self.store.open_input(path) as handle:
                parquet = pq.ParquetFile(handle, pre_buffer=False, buffer_size=READ_BUFFER)
                for batch in parquet.iter_batches(batch_size=batch_rows):
                    yield to_logical(batch, manifest.schema)


_END = object()


def _read_ahead(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """`batches`, each produced on a helper thread while the previous one is consumed.

    Decoding and decompressing release the GIL, so the reader and a sink's encoder share
    the cores. Errors surface here, in the caller's thread.
    """
    # The pool is shut down (its pending batch finished) before the source is closed.
    with (
        closing(cast(Generator[pa.RecordBatch, None, None], batches)) as source,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="sluice-lake-read") as pool,
    ):
        pending = pool.submit(next, source, _END)
        while (item := pending.result()) is not _END:
            pending = pool.submit(next, source, _END)
            yield cast(pa.RecordBatch, item)
