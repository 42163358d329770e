"""Reading committed batches. A batch directory without a manifest does not exist for readers."""

from __future__ import annotations

import posixpath
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import cast

import pyarrow as pa
import pyarrow.parquet as pq

from sluice.core.errors import ConfigError
from sluice.lake.errors import translates_storage_errors
from sluice.lake.layout import BATCH_DIR, table_dir
from sluice.lake.manifest import MANIFEST_NAME, PENDING_NAME, Manifest
from sluice.lake.store import LakeStore

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

    def committed(self) -> list[Manifest]:
        """Manifests of committed batches, oldest first."""
        manifests = []
        for sequence, path in sorted(self.batch_dirs().items()):
            manifest_path = posixpath.join(path, MANIFEST_NAME)
            if not self.store.exists(manifest_path):
                continue
            manifest = Manifest.from_json(self.store.read_bytes(manifest_path))
            if manifest.sequence == sequence:
                manifests.append(manifest)
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

    def publish(self, manifest: Manifest) -> None:
        """Make a pending batch exist for every reader: its manifest, written atomically."""
        path = self.batch_dirs()[manifest.sequence]
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
        """A part's Arrow schema and Parquet footer (row count, column statistics)."""
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
                yield from parquet.iter_batches(batch_size=batch_rows)


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
