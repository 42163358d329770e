"""A full MySQL/MariaDB read split into primary key ranges read in parallel, in one state.

MySQL cannot hand a snapshot to another connection, so the ranges' snapshots are made equal
the way mydumper does: the extract's connection takes `LOCK TABLES t READ` (writers to this
table wait; readers do not) and a named lock (`GET_LOCK`) with the read's id, counts the rows
and splits the primary key's range (a single integer column) into N ranges. Each range is
read by connectorx on its own connection, which starts its consistent snapshot and then
checks that the named lock is still held: the snapshot began after the extract took its locks
(the range existed) and before it released them, so every range sees the same rows, the
rows the count saw. A range whose reader began too late fails, naming why. The extract
releases both locks as soon as every range has begun (`Partitioning.started`), so writers wait
about as long as the ranges take to start, not for the whole read (longer when no worker is
free and the extract reads the ranges one after another itself). So a table is split only
when its `--partitions` asks, never by its size. InnoDB only: other engines have no
snapshot, and are read in one piece.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from sluice.connectors.base import Partitioning, ReadRequest
from sluice.connectors.mysql.connection import connect, translate
from sluice.core.errors import StageError, TerminalError, TransientError
from sluice.core.ids import new_uuid7

if TYPE_CHECKING:
    from collections.abc import Generator

    from pymysql.cursors import Cursor

    from sluice.connectors.mysql.config import MySQLCreds
    from sluice.core.models import TableRef

_KEY_SQL = (
    "SELECT s.COLUMN_NAME, LOWER(c.DATA_TYPE), t.ENGINE FROM information_schema.STATISTICS s "
    "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND "
    "c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME "
    "JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.TABLE_SCHEMA AND "
    "t.TABLE_NAME = s.TABLE_NAME "
    "WHERE s.TABLE_SCHEMA = %s AND s.TABLE_NAME = %s AND s.INDEX_NAME = 'PRIMARY'"
)
_INTEGERS = ("tinyint", "smallint", "mediumint", "int", "integer", "bigint")
# What the server says when a range's lock check finds the extract's lock gone (the check's
# subquery returns a second row exactly then).
_TOO_LATE = "Subquery returns more than 1 row"


class _Reads(Protocol):
    creds: MySQLCreds

    def _database(self, cursor: Cursor, table: TableRef) -> str: ...

    def _read(
        self,
        request: ReadRequest,
        warnings: list[str],
        *,
        where: str = "",
        checks: tuple[str, ...] = (),
    ) -> Generator[pa.RecordBatch, None, int | None]: ...


class PartitionedReads:
    """MySQLSource's partitioned reads (connectors/base.py: PartitionedSource)."""

    @contextmanager
    def partitions(
        self: _Reads, request: ReadRequest, wanted: int | None
    ) -> Iterator[Partitioning | None]:
        import pymysql

        from sluice.connectors.mysql.source import _fetch, _qualified

        table = request.table
        connection = connect(self.creds)
        try:
            with connection.cursor() as cursor:
                database = self._database(cursor, table)
                keys = _fetch(cursor, _KEY_SQL, (database, table.name))
                splittable = (
                    len(keys) == 1
                    and str(keys[0][1]) in _INTEGERS
                    and str(keys[0][2]).lower() == "innodb"
                )
                # Only when asked (`--partitions`), never by size: writers wait for the lock.
                count = wanted or 0
                if count < 2 or not splittable:
                    yield None
                    return
                key = str(keys[0][0])
                lock = f"sluice-{new_uuid7()}"
                cursor.execute(f"LOCK TABLES {_qualified(table)} READ")
                if _fetch(cursor, "SELECT GET_LOCK(%s, 10)", (lock,))[0][0] != 1:
                    raise TransientError(f"MySQL did not grant the named lock {lock!r} in 10 s")
                counted = int(_fetch(cursor, f"SELECT COUNT(*) FROM {_qualified(table)}")[0][0])
                quoted = _quoted(key)
                low, high = _fetch(
                    cursor, f"SELECT MIN({quoted}), MAX({quoted}) FROM {_qualified(table)}"
                )[0]
                if low is None or int(high) - int(low) + 1 < count:
                    cursor.execute("UNLOCK TABLES")
                    yield None
                    return
                span = int(high) - int(low) + 1
                edges = [int(low) + span * i // count for i in range(1, count)]
                lows: list[int | None] = [None, *edges]
                highs: list[int | None] = [*edges, None]

                def started() -> None:
                    cursor.execute("UNLOCK TABLES")
                    cursor.execute("SELECT RELEASE_LOCK(%s)", (lock,))

                yield Partitioning(
                    specs=[
                        {"lock": lock, "key": key, "low": lo, "high": hi}
                        for lo, hi in zip(lows, highs, strict=True)
                    ],
                    counted=counted if request.count_rows else None,
                    started=started,
                )
        except pymysql.Error as exc:
            raise translate(exc, self.creds) from exc
        finally:
            connection.close()  # ends both locks if they are still held

    def read_partition(
        self: _Reads, request: ReadRequest, spec: dict[str, Any]
    ) -> Iterator[pa.RecordBatch]:
        key, low, high = str(spec.get("key", "")), spec.get("low"), spec.get("high")
        if not key or (low is None and high is None):
            raise TerminalError("a partition names no primary key range")
        bounds = []
        if low is not None:
            bounds.append(f"{_quoted(key)} >= {int(low)}")
        if high is not None:
            bounds.append(f"{_quoted(key)} < {int(high)}")
        lock = str(spec["lock"]).replace("'", "")
        # After the snapshot began: two rows (an error) once the extract's lock is gone.
        check = (
            f"SELECT (SELECT 1 UNION ALL SELECT 2 FROM DUAL WHERE IS_USED_LOCK('{lock}') IS NULL)"
            " INTO @sluice_range_ok"
        )
        warnings: list[str] = []
        try:
            yield from self._read(
                request, warnings, where=" WHERE " + " AND ".join(bounds), checks=(check,)
            )
        except StageError as exc:
            if _TOO_LATE in str(exc):
                raise TerminalError(
                    "this range began its snapshot after the extract had released the table "
                    "(no worker took it in time), so it could not see the same rows as the "
                    "others: nothing was committed; run the extract again"
                ) from exc
            raise


def _quoted(name: str) -> str:
    from sluice.connectors.sqlquote import quote_ident

    return quote_ident(name, "`")
