"""A full PostgreSQL read split into block ranges that other processes read in one snapshot.

The extract's own connection opens a REPEATABLE READ transaction, counts the rows and exports
its snapshot; each range (a `ctid` block range, read by a TID range scan, PostgreSQL 14+) is
read over a connection of its own, on whichever worker claims it, after `SET TRANSACTION
SNAPSHOT`, so every range sees exactly the rows the count saw. Every row version lives in one
block, so the ranges hold each row once; the last range is open-ended.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pyarrow as pa

from sluice.connectors.base import Partitioning, ReadRequest, partition_count
from sluice.connectors.postgres.connection import close_quietly, translate
from sluice.connectors.postgres.connection import fetch as _fetch
from sluice.connectors.postgres.reading import and_where, array_guard, ctid_range
from sluice.connectors.postgres.streams import stream
from sluice.core.errors import TerminalError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from adbc_driver_manager.dbapi import Connection, Cursor

    from sluice.connectors.postgres.config import PostgresCreds
    from sluice.connectors.postgres.reading import SourceColumn
    from sluice.core.models import TableRef


class _Reads(Protocol):
    """What the mixin uses of PostgresSource."""

    creds: PostgresCreds
    batch_bytes: ClassVar[int]

    def _transaction(self) -> AbstractContextManager[Cursor]: ...

    def _columns(self, cursor: Cursor, table: TableRef) -> list[SourceColumn]: ...

    def _count(self, cursor: Cursor, table: TableRef) -> int: ...

    def _helper(self, snapshot: str) -> tuple[Connection, Cursor]: ...


_SIZE_SQL = (
    "SELECT relkind, pg_relation_size(oid) / current_setting('block_size')::int, "
    "current_setting('block_size')::int, current_setting('server_version_num')::int, "
    "has_function_privilege('pg_catalog.pg_export_snapshot()', 'EXECUTE') "
    "FROM pg_class WHERE oid = to_regclass($1)"
)


class PartitionedReads:
    """PostgresSource's partitioned reads (connectors/base.py: PartitionedSource)."""

    @contextmanager
    def partitions(
        self: _Reads, request: ReadRequest, wanted: int | None
    ) -> Iterator[Partitioning | None]:
        from sluice.connectors.postgres.source import _qualified, export_snapshot

        table = request.table
        with self._transaction() as cursor:
            self._columns(cursor, table)  # names a missing table; fixes the snapshot
            counted = self._count(cursor, table) if request.count_rows else None
            kind, blocks, block_size, version, exportable = _fetch(
                cursor, _SIZE_SQL, (_qualified(table),)
            )[0]
            blocks = int(blocks)
            count = partition_count(wanted, blocks * int(block_size))
            count = min(count, blocks)  # a range per block at most: none of them empty
            splittable = kind in ("r", "m") and int(version) >= 140000 and exportable
            if count < 2 or not splittable:
                yield None
                return
            snapshot = export_snapshot(cursor)
            edges = [blocks * i // count for i in range(1, count)]
            lows: list[int | None] = [None, *edges]
            highs: list[int | None] = [*edges, None]
            yield Partitioning(
                specs=[
                    {"snapshot": snapshot, "low": low, "high": high}
                    for low, high in zip(lows, highs, strict=True)
                ],
                counted=counted,
            )

    def read_partition(
        self: _Reads, request: ReadRequest, spec: dict[str, Any]
    ) -> Iterator[pa.RecordBatch]:
        import adbc_driver_manager

        from sluice.connectors.postgres.source import _SNAPSHOT_ID, _qualified

        snapshot = str(spec.get("snapshot", ""))
        if not _SNAPSHOT_ID.match(snapshot):
            raise TerminalError(f"a partition names no PostgreSQL snapshot ({snapshot!r})")
        low, high = spec.get("low"), spec.get("high")
        if low is None and high is None:
            raise TerminalError("a partition names no block range")
        table = request.table
        try:
            connection, cursor = self._helper(snapshot)
        except adbc_driver_manager.Error as exc:
            raise translate(exc, self.creds) from exc
        try:
            columns = self._columns(cursor, table)
            schema = pa.schema([column.field for column in columns])
            select = ", ".join(column.expression for column in columns)
            where = and_where(ctid_range(low, high), array_guard(table, columns))
            sql = f"SELECT {select} FROM {_qualified(table)}{where}"
            yield from stream(cursor, sql, schema, request.batch_rows, self.batch_bytes)
            cursor.execute("COMMIT")
        except (adbc_driver_manager.Error, pa.ArrowException, OSError) as exc:
            raise translate(exc, self.creds) from exc
        finally:
            close_quietly(connection, cursor)
