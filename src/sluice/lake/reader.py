"""Reading committed batches. A batch directory without a manifest does not exist for readers."""

from __future__ import annotations

import posixpath
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pyarrow.parquet as pq

from sluice.core.errors import ConfigError, TerminalError
from sluice.core.faults import crash_point
from sluice.lake.errors import translates_storage_errors
from sluice.lake.iceberg_head import Head, index_of
from sluice.lake.layout import BATCH_DIR, COMPACTED_DIR, batch_dir_name, table_dir
from sluice.lake.manifest import (
    MANIFEST_NAME,
    PENDING_NAME,
    BatchRef,
    Manifest,
    current_batches,
)
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
        self._dirs: dict[int, str] | None = None  # the last listing
        self._newest = 0
        self._indexed: tuple[dict[int, BatchRef | None], int | None] | None = None
        self._iceberg: Table | None = None
        self._head: Head | None = None  # the Iceberg metadata the index was read from
        self._manifests: dict[int, Manifest] = {}

    @property
    def key(self) -> str:
        """How sinks name this lake table in their state."""
        return f"{self.source_name}/{self.table}"

    def batch_dirs(self) -> dict[int, str]:
        """Every batch directory, committed or not, by sequence (one listing); compacted
        batches' directories apart (`newest_sequence`)."""
        found = {}
        self._newest = 0
        for entry in self.store.list(self.dir):
            name = posixpath.basename(entry.path)
            match = BATCH_DIR.match(name) or COMPACTED_DIR.match(name)
            if entry.is_dir and match:
                self._newest = max(self._newest, int(match.group(1)))
                if match.re is BATCH_DIR:
                    found[int(match.group(1))] = entry.path
        self._dirs = found
        return found

    def abandoned_compactions(self, older_than: float) -> list[str]:
        """Directories of compactions that never committed (killed, or failed and unable to
        clean up) whose newest file is older than `older_than` (seconds since the epoch):
        no snapshot names them, and no compaction still writing them is that slow."""
        named = {ref.directory for ref in self.batches(complete=False) if ref.directory}
        found = []
        for entry in self.store.list(self.dir):
            name = posixpath.basename(entry.path)
            if not entry.is_dir or not COMPACTED_DIR.match(name) or name in named:
                continue
            times = [f.modified or 0.0 for f in self.store.list(entry.path, recursive=True)]
            if max(times, default=0.0) < older_than:
                found.append(entry.path)
        return found

    def newest_sequence(self) -> int:
        """The highest batch number any directory takes (0: none), a compacted batch's too:
        the next batch takes the one after it."""
        self.batch_dirs()
        return self._newest

    def batches(self, *, complete: bool = True) -> list[BatchRef]:
        """The committed batches, oldest first, as the lake's index describes them.

        A batch is committed once its Iceberg snapshot is (the publish point); its manifest
        follows. The index is the Iceberg table's snapshots: one read of its metadata and
        one listing of the table's directory, however many batches there are; a manifest is
        read only for a batch the index cannot describe (snapshots of an earlier release,
        and batches kept from before the lake's tables were Iceberg tables). Only the
        current snapshot's batch can lack its manifest (its process died between the two):
        it is completed here from the pending one, on the first look after. (`complete=
        False`: a run looking at the batches while its own is pending, which its publish
        completes.)
        """
        directories = self.batch_dirs()
        indexed, head = ({}, None) if self.store.catalog is None else self._index()
        refs = []
        for sequence, ref in indexed.items():
            path = self.directory_of(sequence)
            if sequence == head and not self.store.exists(posixpath.join(path, MANIFEST_NAME)):
                pending_path = posixpath.join(path, PENDING_NAME)
                if not complete or not self.store.exists(pending_path):
                    continue
                self._write_manifest(path, Manifest.from_json(self.store.read_bytes(pending_path)))
            refs.append(ref or self.manifest(sequence).ref)
        compacted = {s for ref in indexed.values() if ref for s, _ in ref.covers}
        for sequence, path in directories.items():
            # Unrecorded, with a manifest: a batch from before the Iceberg format (older
            # than every recorded one: kept by retention; newer: its adoption was cut
            # short), or every batch where no Iceberg table records the lake (yet).
            # Between recorded ones, or compacted, it is not committed (any more).
            if (
                sequence in indexed
                or sequence in compacted
                or (indexed and min(indexed) < sequence < max(indexed))
            ):
                continue
            if self.store.exists(posixpath.join(path, MANIFEST_NAME)):
                refs.append(self.manifest(sequence).ref)
        return sorted(refs, key=lambda ref: ref.sequence)

    def committed(self, *, complete: bool = True) -> list[Manifest]:
        """Manifests of committed batches, oldest first (see `batches`): every manifest is
        read, so this is for listings; stages plan with `batches` and read what they use."""
        return [self.manifest(ref.sequence) for ref in self.batches(complete=complete)]

    def newest(self) -> Manifest | None:
        """The newest committed batch's manifest."""
        refs = self.batches()
        return self.manifest(refs[-1].sequence) if refs else None

    def manifest(self, sequence: int) -> Manifest:
        """A committed batch's manifest, read once per LakeTable (a published manifest never
        changes)."""
        found = self._manifests.get(sequence)
        if found is None:
            path = posixpath.join(self.directory_of(sequence), MANIFEST_NAME)
            found = Manifest.from_json(self.store.read_bytes(path))
            self._manifests[sequence] = found
        return found

    def manifests(self, refs: Iterable[BatchRef]) -> list[Manifest]:
        return [self.manifest(ref.sequence) for ref in refs]

    def _index(self) -> tuple[dict[int, BatchRef | None], int | None]:
        catalog = self.store.catalog
        assert catalog is not None
        if self._indexed is None:
            self._head = catalog.head(self)
            self._indexed = index_of(self._head)
        return self._indexed

    def directory_of(self, sequence: int) -> str:
        """A batch's directory: a compacted batch's own (the index names it), else the
        directory of its number."""
        ref = (self._indexed or ({}, None))[0].get(sequence)
        if ref is not None and ref.directory:
            return posixpath.join(self.dir, ref.directory)
        manifest = self._manifests.get(sequence)
        if manifest is not None and manifest.directory:
            return posixpath.join(self.dir, manifest.directory)
        directories = self._dirs if self._dirs is not None else self.batch_dirs()
        return directories.get(sequence) or posixpath.join(self.dir, batch_dir_name(sequence))

    def pending(self, run_id: int | None = None) -> list[Manifest]:
        """Batches `run_id` (None: any run) wrote and has not published yet (see
        BatchWriter.commit)."""
        committed = {ref.sequence for ref in self.batches(complete=False)}
        found = []
        for sequence, path in sorted((self._dirs or {}).items()):
            pending_path = posixpath.join(path, PENDING_NAME)
            if sequence in committed or not self.store.exists(pending_path):
                continue
            if self.store.exists(posixpath.join(path, MANIFEST_NAME)):
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
        path = self.directory_of(manifest.sequence)
        catalog = self.store.catalog
        # The table as this stage's index read it: only this run commits hop 1's batches
        # (its lock), and the commit's compare-and-swap catches any other move.
        table = None if catalog is None else self._loaded()
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
            self._forget_index()
        self._write_manifest(path, manifest)

    def publish_compaction(
        self, manifest: Manifest, covered: list[Manifest], *, fenced_by: int | None = None
    ) -> None:
        """Make a pending compacted batch replace the batches it covers: the Iceberg commit
        that swaps the files (the publish point: from then on readers see its files, no
        longer the covered ones'), its manifest, then the covered batches' directories,
        each manifest first. A process that dies in between leaves the manifest to the next look
        (`batches`) and the directories to the next hop 1 run or `lake gc`, which remove
        what no snapshot records."""
        catalog = self.store.catalog
        if catalog is None:
            raise TerminalError(f"lake table {self.key} has no Iceberg catalog to compact in")
        replaced = [path for earlier in covered for path in self.part_paths(earlier)]
        crash_point("compaction:before_commit")
        catalog.replace(self, manifest, self.part_paths(manifest), replaced, fenced_by=fenced_by)
        crash_point("compaction:after_commit")
        self._forget_index()
        self._write_manifest(self.batch_path(manifest), manifest)
        crash_point("compaction:after_manifest")
        for earlier in covered:
            path = self.batch_path(earlier)
            self.store.delete_file(posixpath.join(path, MANIFEST_NAME))
            self.store.delete_dir(path)

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
        if missing:
            self._forget_index()
        return [m.sequence for m in missing]

    def _loaded(self) -> Table | None:
        """The Iceberg table as this LakeTable last read it (reading it now if it has not)."""
        if self._indexed is None:
            self._index()
        catalog = self.store.catalog
        if self._iceberg is None and self._head is not None and catalog is not None:
            self._iceberg = catalog.table_of(self, self._head)
        return self._iceberg

    def _forget_index(self) -> None:
        """After a commit of this process's: the next look reads the table again."""
        self._indexed = self._snapshots = self._iceberg = self._head = None

    def _write_manifest(self, path: str, manifest: Manifest) -> None:
        self.store.write_atomic(posixpath.join(path, MANIFEST_NAME), manifest.to_json())
        pending_path = posixpath.join(path, PENDING_NAME)
        if self.store.exists(pending_path):  # only tidiness: readers never look at it
            self.store.delete_file(pending_path)

    def batch_path(self, manifest: Manifest) -> str:
        if manifest.directory:
            return posixpath.join(self.dir, manifest.directory)
        return self.directory_of(manifest.sequence)

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
