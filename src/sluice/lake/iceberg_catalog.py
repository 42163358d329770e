"""pyiceberg's SQL catalog on sluice's config database, its commits fenced by a run's lock.

The catalog runs on sluice's own engine (its WAL, busy timeout and write lock on SQLite) and
on the tables migration 0015 made, so pyiceberg never runs DDL; its FileIO is the lake's own
pyarrow filesystem (the lake's options and error sorting). A commit made for a run is one
compare-and-swap UPDATE that also requires the run's lock row. pyiceberg is imported when a
catalog is first opened, and pinned below 0.13 for the private methods used here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs
import sqlalchemy as sa

from sluice.core.errors import FencedOffError

if TYPE_CHECKING:
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.table import Table

    from sluice.lake.store import LakeStore

CATALOG_NAME = "sluice"


# The lake filesystems pyiceberg's IO reaches, by the catalog property naming them: pyiceberg
# makes its FileIO from properties alone (`py-io-impl` names the class).
_FILESYSTEMS: dict[str, pafs.FileSystem] = {}
_FS_KEY = "sluice.lake-filesystem"


def open_catalog(engine: sa.Engine, store: LakeStore) -> SqlCatalog:
    from pyiceberg.catalog import MetastoreCatalog
    from pyiceberg.catalog.sql import SqlCatalog

    key = str(id(store))
    _FILESYSTEMS[key] = store.fs

    class ConfigDatabaseCatalog(SqlCatalog):
        """The SQL catalog on sluice's engine and tables; `fence_run` set: its commits
        require that run's lock."""

        def __init__(self) -> None:
            MetastoreCatalog.__init__(
                self,
                CATALOG_NAME,
                init_catalog_tables="false",
                warehouse=store.uri,
                **{"py-io-impl": f"{__name__}.LakeFileIO", _FS_KEY: key},
            )
            self.engine = engine
            # pyiceberg's own start probes for its tables (three statements per process);
            # migration 0015 made them, in its schema v1.
            self._schema_version = "v1"
            self.fence_run: int | None = None
            # Set: a commit that finds the table moved raises this instead of pyiceberg's
            # CommitFailedException, which pyiceberg answers by redoing the change on the
            # moved table (right for an append; not for a compaction planned on the old one).
            self.if_moved: Exception | None = None

        def commit_table(
            self, table: Table, requirements: tuple[Any, ...], updates: tuple[Any, ...]
        ) -> Any:
            from pyiceberg.exceptions import CommitFailedException

            try:
                if self.fence_run is None:
                    return super().commit_table(table, requirements, updates)
                return _fenced_commit(self, self.fence_run, table, requirements, updates)
            except CommitFailedException:
                if self.if_moved is not None:
                    raise self.if_moved from None
                raise

    return ConfigDatabaseCatalog()


def _fenced_commit(
    catalog: SqlCatalog,
    run_id: int,
    table: Table,
    requirements: tuple[Any, ...],
    updates: tuple[Any, ...],
) -> Any:
    """pyiceberg's SqlCatalog.commit_table for a table that exists, its compare-and-swap
    UPDATE also conditional on the run holding its lock (config/runs.py `holding`): the
    publication and the fence are one statement, so a run reaped a moment before cannot
    publish behind the run that replaced it."""
    from pyiceberg.catalog import Catalog
    from pyiceberg.catalog.sql import IcebergTables
    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.table import CommitTableResponse
    from sqlalchemy.orm import Session

    from sluice.config.runs import holding

    identifier = table.name()
    namespace = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
    name = Catalog.table_name_from(identifier)
    # The table as this process loaded it, not read again: the compare-and-swap below fails
    # (CommitFailedException, which pyiceberg's snapshot producers retry on a fresh load) if
    # another commit moved it meanwhile.
    current = table
    staged = catalog._update_and_stage_table(current, identifier, requirements, updates)
    if staged.metadata == current.metadata:
        return CommitTableResponse(  # type: ignore[call-arg]
            metadata=current.metadata, metadata_location=current.metadata_location
        )
    catalog._write_metadata(staged.metadata, staged.io, staged.metadata_location)
    with Session(catalog.engine) as session:
        swapped = session.execute(
            sa.update(IcebergTables)
            .where(
                IcebergTables.catalog_name == catalog.name,
                IcebergTables.table_namespace == namespace,
                IcebergTables.table_name == name,
                IcebergTables.metadata_location == current.metadata_location,
                holding(run_id),
            )
            .values(
                metadata_location=staged.metadata_location,
                previous_metadata_location=current.metadata_location,
            )
        )
        if swapped.rowcount < 1:  # type: ignore[attr-defined]
            session.rollback()
            held = session.execute(sa.select(holding(run_id))).scalar_one()
            if not held:
                raise fenced_off(run_id, f"{namespace}.{name}")
            raise CommitFailedException(f"{namespace}.{name} was changed by another commit")
        session.commit()
    return CommitTableResponse(  # type: ignore[call-arg]
        metadata=staged.metadata, metadata_location=staged.metadata_location
    )


def fenced_off(run_id: int, where: str) -> FencedOffError:
    return FencedOffError(
        f"run {run_id} no longer holds lake table {where} (it was reaped as abandoned): "
        "nothing it wrote was published"
    )


def _lake_file_io() -> type:
    from pyiceberg.io.pyarrow import PyArrowFileIO, PyArrowLocalFileSystem
    from pyiceberg.typedef import EMPTY_DICT, Properties

    class LakeFileIO(PyArrowFileIO):
        """pyiceberg's Arrow IO on the lake's own filesystem (its options, its errors)."""

        def __init__(self, properties: Properties = EMPTY_DICT) -> None:
            super().__init__(properties)
            fs = _FILESYSTEMS[str(properties[_FS_KEY])]
            if isinstance(fs, pafs.LocalFileSystem):
                fs = PyArrowLocalFileSystem()  # the same, making a file's directory first
            self.fs_by_scheme = lambda scheme, netloc: fs

    return LakeFileIO


def __getattr__(name: str) -> type:
    # LakeFileIO is made on first use, so importing this module does not import pyiceberg.
    if name == "LakeFileIO":
        return _lake_file_io()
    raise AttributeError(name)
