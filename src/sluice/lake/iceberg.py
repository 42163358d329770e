"""The lake's tables as Apache Iceberg tables, in a catalog kept in the config database.

Each lake table is the Iceberg table `<source>.<table>` located at its lake directory. Every
batch hop 1 publishes is one Iceberg snapshot, committed in one step by pyiceberg's SQL catalog
(a compare-and-swap UPDATE of `iceberg_tables`, which migration 0015 made in the config
database): an incremental batch appends its parts, a full one (or a reload) overwrites the
table with them. The snapshot's summary names the batch (`sluice.batch`), its run and its load
type. The commit is the batch's publish point (LakeTable.publish); any engine that reads
Iceberg reads the table with no sluice code (docs/lake.md).

The files are sluice's own Parquet parts, registered where they lie (no copy); their columns
are in the lake's physical types (lake/physical.py), which Iceberg holds exactly. pyiceberg
reaches them through the lake's own filesystem, so every lake location and option works
the same for both. pyiceberg is imported when a catalog is first used.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pyarrow as pa
import sqlalchemy as sa

from sluice.core.errors import FencedOffError, TerminalError, TransientError
from sluice.lake.iceberg_catalog import fenced_off, open_catalog
from sluice.lake.iceberg_schema import (
    METRICS_COLUMN,
    beyond_python_dates,
    documented,
    evolve,
)
from sluice.lake.manifest import BatchRef, Manifest
from sluice.lake.physical import physical_schema

if TYPE_CHECKING:
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.table import Table, Transaction

    from sluice.lake.iceberg_head import Head
    from sluice.lake.reader import LakeTable
    from sluice.lake.store import LakeStore

log = logging.getLogger("sluice.lake")

BATCH = "sluice.batch"
RUN = "sluice.run-id"
LOAD_TYPE = "sluice.load-type"
# The rest of a batch's index entry (BatchRef); snapshots committed before them carry only
# the three above, and their batches' refs are read from their manifests.
ROWS = "sluice.rows"
UID = "sluice.batch-uid"
DIRECTORY = "sluice.batch-dir"  # a compacted batch's (Manifest.directory)
COVERS = "sluice.covers"  # a compacted batch's (Manifest.covers), as JSON
# Manifests merged on append, old metadata files pruned: without them every commit adds a
# manifest and a whole new metadata file, and a table's reads and commits slow down forever.
TABLE_PROPERTIES = {
    "commit.manifest-merge.enabled": "true",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "10",
}


class LakeCatalog:
    """The Iceberg catalog of one lake, on the config database's engine."""

    def __init__(self, engine: sa.Engine, store: LakeStore) -> None:
        self.engine = engine
        self.store = store
        self._catalog: SqlCatalog | None = None

    def prefetch(self) -> None:
        """Import pyiceberg on a thread of its own now (about 0.35 s of Python imports), so
        the batch being written finds it loaded when it is published: an extract reading the
        source meanwhile spends most of its time outside the interpreter. Not a daemon: an
        interpreter shutting down while a daemon thread imports can abort the process."""
        if self._catalog is None and "pyiceberg.catalog.sql" not in sys.modules:
            threading.Thread(
                target=importlib.import_module,
                args=("pyiceberg.catalog.sql",),
                name="sluice-iceberg-import",
            ).start()

    def _opened(self) -> SqlCatalog:
        if self._catalog is None:
            self._catalog = open_catalog(self.engine, self.store)
        return self._catalog

    def uri(self, path: str) -> str:
        """A lake path as the URI Iceberg records (file:// for a local lake)."""
        return f"file://{path}" if self.store.local else self.store.display(path)

    def load(self, lake_table: LakeTable) -> Table | None:
        """The table, or None where there is none yet. A catalog row whose metadata file is
        gone (the lake was moved or deleted underneath) is dropped: the lake's batches are
        the truth, and the table is made again from them (LakeTable.adopt)."""
        from pyiceberg.exceptions import NoSuchTableError

        catalog = self._opened()
        try:
            return catalog.load_table(_identifier(lake_table))
        except NoSuchTableError:
            return None
        except FileNotFoundError:
            log.warning(
                "the Iceberg metadata of lake table %s is gone: its table is made again "
                "from the lake's batches",
                lake_table.key,
            )
            catalog.drop_table(_identifier(lake_table))
            return None

    def table_of(self, lake_table: LakeTable, head: Head) -> Table:
        """The pyiceberg table whose current metadata `head` holds (lake/iceberg_head.py),
        made from those bytes: no second look at the catalog or the file."""
        from pyiceberg.table import Table
        from pyiceberg.table.metadata import TableMetadataUtil

        catalog = self._opened()
        metadata = TableMetadataUtil.parse_raw(head.raw.decode())
        return Table(
            identifier=_identifier(lake_table),
            metadata=metadata,
            metadata_location=head.location,
            io=catalog._load_file_io(metadata.properties, head.location),
            catalog=catalog,
        )

    def head(self, lake_table: LakeTable) -> Head | None:
        """The table's current metadata, read without pyiceberg (lake/iceberg_head.py)."""
        from sluice.lake.iceberg_head import read_head

        return read_head(self.engine, self.store, lake_table.source_name, lake_table.table)

    def recorded(self, lake_table: LakeTable, table: Table | None = None) -> set[int]:
        """The batches the table's snapshots record (all that have not been expired);
        `table`: the table as just loaded."""
        return set(self.snapshots(lake_table, table))

    def snapshots(
        self, lake_table: LakeTable, table: Table | None = None
    ) -> dict[int, tuple[int, str]]:
        """Batch -> (snapshot id, operation) of the snapshots the table keeps."""
        table = table or self.load(lake_table)
        found: dict[int, tuple[int, str]] = {}
        for snapshot in table.snapshots() if table is not None else []:
            summary = snapshot.summary
            if summary is not None and summary.get(BATCH) is not None:
                found[int(str(summary[BATCH]))] = (snapshot.snapshot_id, summary.operation.value)
        return found

    def index(
        self, lake_table: LakeTable, table: Table | None = None
    ) -> tuple[dict[int, BatchRef | None], int | None]:
        """The batches the table's snapshots record, oldest first, each with its ref (None
        where the snapshot predates the index fields), and the batch of the current snapshot
        (the one whose manifest may not be written yet); one read of the table's metadata."""
        table = table or self.load(lake_table)
        refs: dict[int, BatchRef | None] = {}
        head = None
        for snapshot in table.snapshots() if table is not None else []:
            summary = snapshot.summary
            if summary is None or summary.get(BATCH) is None:
                continue
            sequence = int(str(summary[BATCH]))
            refs[sequence] = batch_ref(sequence, summary)
            if table is not None and snapshot.snapshot_id == table.metadata.current_snapshot_id:
                head = sequence
        return dict(sorted(refs.items())), head

    def commit(
        self,
        lake_table: LakeTable,
        manifest: Manifest,
        part_paths: list[str],
        table: Table | None = None,
        *,
        fenced_by: int | None = None,
    ) -> Table:
        """Record a batch as the table's next snapshot, in one catalog commit; `table`: the
        table as just loaded. With `fenced_by` (a run's id) the commit's compare-and-swap
        holds only while that run holds its lock (FencedOffError, nothing visible, else).
        Returns the table as committed."""
        schema = documented(physical_schema(manifest.schema), manifest.schema)
        table = table or self.load(lake_table) or self._create(lake_table, schema)
        full = manifest.load_type == "full" or manifest.reload
        properties = _properties(manifest)
        files = [self.uri(path) for path in part_paths]
        catalog = self._opened()
        catalog.fence_run = fenced_by  # type: ignore[attr-defined]
        try:
            self._commit(table, manifest, schema, files, properties, full, lake_table.key)
        except FencedOffError:
            raise
        except Exception as exc:
            # A run reaped while it waited finds its files removed by the run that replaced
            # it: that it lost its lock is the cause to report, not the missing file.
            if fenced_by is not None and not self._holds(fenced_by):
                raise fenced_off(fenced_by, lake_table.key) from exc
            raise
        finally:
            catalog.fence_run = None  # type: ignore[attr-defined]
        return table

    def _holds(self, run_id: int) -> bool:
        from sluice.config.runs import holding

        with self.engine.connect() as connection:
            return bool(connection.execute(sa.select(holding(run_id))).scalar_one())

    def _commit(
        self,
        table: Table,
        manifest: Manifest,
        schema: pa.Schema,
        files: list[str],
        properties: dict[str, str],
        full: bool,
        where: str,
    ) -> None:
        with table.transaction() as tx:
            evolve(tx, table, schema, full=full, where=where)
            counted = {
                f"{METRICS_COLUMN}.{name}": "counts"
                for name in beyond_python_dates(manifest)
                if table.properties.get(f"{METRICS_COLUMN}.{name}") != "counts"
            }
            if counted:
                tx.set_properties(counted)
            if full and table.current_snapshot() is not None:
                _overwrite(tx, table, files, properties)
            else:
                tx.add_files(files, snapshot_properties=properties, check_duplicate_files=False)

    def replace(
        self,
        lake_table: LakeTable,
        manifest: Manifest,
        part_paths: list[str],
        replaced_paths: list[str],
        *,
        fenced_by: int | None = None,
    ) -> None:
        """Commit a compacted batch (Manifest.covers): one OVERWRITE snapshot that swaps the
        covered batches' files for its parts, on the table as it is now, whose newest batch
        must be the newest one covered (TransientError else: a batch was published
        meanwhile, and the compaction is left for later). Then the covered batches'
        snapshots are expired: no reader can travel to files about to go."""
        moved = TransientError(
            f"lake table {lake_table.key} moved on since its compaction up to batch "
            f"{manifest.sequence} began (a batch was published): nothing was changed, and the "
            "compaction is left for later"
        )
        table = self.load(lake_table)
        _, head = self.index(lake_table, table)
        if table is None or head != manifest.sequence:
            raise moved
        schema = documented(physical_schema(manifest.schema), manifest.schema)
        replaced = {self.uri(path) for path in replaced_paths}
        catalog = self._opened()
        catalog.fence_run = fenced_by  # type: ignore[attr-defined]
        catalog.if_moved = moved  # type: ignore[attr-defined]
        try:
            with table.transaction() as tx:
                evolve(tx, table, schema, full=False, where=lake_table.key)
                _overwrite(
                    tx, table, [self.uri(p) for p in part_paths], _properties(manifest), replaced
                )
        finally:
            catalog.fence_run = catalog.if_moved = None  # type: ignore[attr-defined]
        self.expire(lake_table, {sequence for sequence, _ in manifest.covers})

    def expire(self, lake_table: LakeTable, batches: set[int]) -> None:
        """Forget the snapshots of `batches` (their files are about to go): a reader can no
        longer travel to them. The current snapshot is never one of them (retention keeps
        the newest full batch and what follows it)."""
        if not batches:
            return
        table = self.load(lake_table)
        if table is None:
            return
        ids = [
            snapshot.snapshot_id
            for snapshot in table.snapshots()
            if snapshot.summary is not None
            and int(snapshot.summary.get(BATCH) or -1) in batches
            # A compacted batch takes the newest covered batch's number: its own snapshot,
            # the current one, stays.
            and snapshot.snapshot_id != table.metadata.current_snapshot_id
        ]
        if not ids:
            return
        # The Iceberg metadata only the expired snapshots name (their manifest lists, and
        # manifests no kept snapshot shares) goes with them. No commit can start from an
        # expired snapshot, so nothing in flight needs these files.
        expired = [s for s in table.snapshots() if s.snapshot_id in ids]
        kept = [s for s in table.snapshots() if s.snapshot_id not in ids]
        shared = {m.manifest_path for s in kept for m in s.manifests(table.io)}
        doomed = {s.manifest_list for s in expired} | {
            m.manifest_path for s in expired for m in s.manifests(table.io)
        }
        table.maintenance.expire_snapshots().by_ids(ids).commit()
        for location in sorted(doomed - shared):
            path = self._path(location)
            if self.store.exists(path):
                self.store.delete_file(path)

    def _path(self, location: str) -> str:
        """A location Iceberg recorded (see `uri`) as the lake store's path."""
        if self.store.local:
            return location.removeprefix("file://")
        return location.split("://", 1)[1]

    def _create(self, lake_table: LakeTable, schema: pa.Schema) -> Table:
        from pyiceberg.exceptions import NamespaceAlreadyExistsError

        catalog = self._opened()
        namespace = (lake_table.source_name,)
        # pyiceberg looks, then inserts: two first batches of one source's tables, published
        # at once, both find no namespace, and the second insert meets the first's row.
        with contextlib.suppress(NamespaceAlreadyExistsError, sa.exc.IntegrityError):
            catalog.create_namespace(namespace)
        return catalog.create_table(
            _identifier(lake_table),
            schema=schema,
            location=self.uri(lake_table.dir),
            properties=TABLE_PROPERTIES,
        )


def _properties(manifest: Manifest) -> dict[str, str]:
    """The snapshot summary's entries for a batch: its line in the lake's index."""
    properties = {
        BATCH: str(manifest.sequence),
        RUN: str(manifest.run_id),
        LOAD_TYPE: "reload" if manifest.reload else manifest.load_type,
        ROWS: str(manifest.row_count),
    }
    if manifest.batch_uid:
        properties[UID] = manifest.batch_uid
    if manifest.directory:
        properties[DIRECTORY] = manifest.directory
    if manifest.covers:
        properties[COVERS] = json.dumps([list(pair) for pair in manifest.covers])
    return properties


def batch_ref(sequence: int, summary: Mapping[str, str]) -> BatchRef | None:
    """A batch's index line, from its snapshot's summary."""
    # .get(): pyiceberg's Summary answers None for a missing key, and `in` is always true.
    rows, run, load_type = summary.get(ROWS), summary.get(RUN), summary.get(LOAD_TYPE)
    if rows is None or run is None or load_type is None:
        return None
    return BatchRef(
        sequence=sequence,
        load_type="full" if load_type == "reload" else load_type,
        reload=load_type == "reload",
        run_id=int(run),
        row_count=int(rows),
        batch_uid=summary.get(UID),
        bytes=int(summary.get("added-files-size") or 0),
        directory=summary.get(DIRECTORY),
        covers=tuple((int(s), u) for s, u in json.loads(summary.get(COVERS) or "[]")),
    )


def _identifier(lake_table: LakeTable) -> tuple[str, str]:
    # A tuple: a name holding a dot is one name, not a namespace path.
    return (lake_table.source_name, lake_table.table)


def _overwrite(
    tx: Transaction,
    table: Table,
    files: list[str],
    properties: dict[str, str],
    replaced: set[str] | None = None,
) -> None:
    """One OVERWRITE snapshot that takes files out and puts the batch's in: for a full load
    every current file (pyiceberg's delete-then-add would make two snapshots, the first an
    empty table); for a compaction the `replaced` files, the same rows in fewer files
    (Iceberg's REPLACE operation says that, but pyiceberg 0.12 cannot write it: the
    snapshot's `sluice.covers` does)."""
    from pyiceberg.table import _parquet_files_to_data_files
    from pyiceberg.table.name_mapping import create_mapping_from_schema

    if tx.table_metadata.name_mapping() is None:
        mapping = create_mapping_from_schema(tx.table_metadata.schema())
        tx.set_properties({"schema.name-mapping.default": mapping.model_dump_json()})
    current = [
        task.file
        for task in table.scan().plan_files()
        if replaced is None or task.file.file_path in replaced
    ]
    if replaced is not None and len(current) != len(replaced):
        raise TerminalError(
            f"Iceberg table {table.name()}: {len(replaced) - len(current)} of the files a "
            "compaction replaces are not in its current snapshot; nothing was changed"
        )
    added = _parquet_files_to_data_files(tx.table_metadata, files, table.io)
    with tx.update_snapshot(snapshot_properties=properties).overwrite() as overwrite:
        for data_file in current:
            overwrite.delete_data_file(data_file)
        for data_file in added:
            overwrite.append_data_file(data_file)
