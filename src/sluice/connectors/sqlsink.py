"""What every SQL sink does the same way: staging, swap, merge, append, schema drift, state.

A concrete sink supplies a connection, a native bulk path into a staging table and its
catalog; the steps here are plain SQL that the embedded engines and PostgreSQL all speak.

    tidy    drop staging tables that a killed load of the same table left behind
    stage   bulk-load the batches into a fresh staging table (plus an ordinal column)
    apply   in ONE transaction: replace (build new table, drop live, rename) | merge (delete
            matching keys, insert deduplicated rows) | append; record the lake batches in the
            state table; drop the staging table
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar, TypeVar

import pyarrow as pa

from sluice.connectors.base import LoadRequest, LoadResult, TableInfo
from sluice.connectors.dialect import Dialect
from sluice.connectors.sinkkeys import rekey
from sluice.connectors.sinkstate import STATE_TABLE, SqlSinkState
from sluice.core.errors import ReloadNeeded, StageError
from sluice.core.faults import crash_point
from sluice.core.models import LoadMode, TableRef

ORDINAL = "_sluice_ord"
T = TypeVar("T")

log = logging.getLogger("sluice.sink")


class Change(enum.Enum):
    """What the sink does when a live column meets the type the lake now has."""

    KEEP = "keep"  # the live column holds the incoming values as they are
    WIDEN = "widen"  # ALTER the live column to the incoming type
    REFUSE = "refuse"  # an incompatible change: the load fails


class SqlSinkBase(SqlSinkState):
    """Shared load algorithm. Subclasses state their differences as class data and primitives."""

    dialect: ClassVar[Dialect]
    # Pairs (live type, incoming type) that may be widened in place with ALTER COLUMN.
    widenings: ClassVar[frozenset[tuple[str, str]]] = frozenset()
    # Types that are the same column type under another spelling.
    type_aliases: ClassVar[dict[str, str]] = {}

    # ---- primitives a sink implements -------------------------------------------------

    def _normal_type(self, declared: str) -> str:
        upper = declared.upper().strip()
        return self.type_aliases.get(upper, upper)

    # ---- the contract -----------------------------------------------------------------

    def ping(self) -> str:
        self.query("SELECT 1")
        return f"{type(self).__name__.removesuffix('Sink')} sink answers"

    def check(self, table: TableRef, *, count_rows: bool = True) -> TableInfo | None:
        columns = self.table_columns(table)
        if columns is None:
            return None
        count = self.row_count_of(table) if count_rows else None
        return TableInfo(table=table, schema=pa.schema([]), row_count=count)

    def prepare(self, request: LoadRequest) -> None:
        """Before a load: the state table exists, and no leftover of a killed load remains."""
        self.ensure_state_table()
        self.drop_stale_siblings(request.table, request.run_id)

    def final_types(self, request: LoadRequest, staging: TableRef) -> dict[str, str]:
        """Column -> the type the target table declares for it: by default the staged one."""
        return self.table_columns(staging) or {}

    def type_change(self, live: str, incoming: str) -> Change:
        have, want = self._normal_type(live), self._normal_type(incoming)
        if have == want:
            return Change.KEEP
        if (have, want) in self.widenings:
            return Change.WIDEN
        if (want, have) in self.widenings:
            return Change.KEEP  # the source narrowed: the wider live column holds the values
        return Change.REFUSE

    def before_swap(self, live: TableRef, fresh: TableRef) -> None:
        """Inside the replace's transaction, before `live` is dropped for `fresh`."""

    def load(self, request: LoadRequest, batches: Iterable[pa.RecordBatch]) -> LoadResult:
        self.prepare(request)
        staging = self.sibling(request.table, "__sluice_stage_", request.run_id)
        self.execute(f"DROP TABLE IF EXISTS {self.qualified(staging)}")
        stage_schema = request.schema.append(pa.field(ORDINAL, pa.int64()))
        upstream = _Upstream(batches)
        try:
            try:
                rows = self.bulk_stage(staging, stage_schema, _with_ordinal(upstream, stage_schema))
            except Exception as exc:
                if upstream.error is None or upstream.error is exc:
                    raise
                raise upstream.error from None
            if upstream.error is not None:  # a driver that swallowed it staged a partial stream
                raise upstream.error
            columns = [field.name for field in request.schema]
            added = self.apply_staged(request, staging, columns, self.final_types(request, staging))
        finally:
            self._discard(staging)
        return LoadResult(rows_loaded=rows, columns_added=added)

    def apply_staged(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> tuple[str, ...]:
        """Apply the staged rows and record the lake batches in ONE transaction (a system
        whose DDL commits implicitly orders its steps itself); the columns it added."""

        def change() -> tuple[str, ...]:
            added = self._apply(request, staging, columns, types)
            self.execute(f"DROP TABLE {self.qualified(staging)}")
            return added

        return self.commit_with_batches(request, change)

    def commit_with_batches(self, request: LoadRequest, change: Callable[[], T]) -> T:
        """`change`, then the load's lake batches recorded in the state table, in ONE
        transaction; the crash point and the run's fence come just before COMMIT."""
        self.begin()
        try:
            result = change()
            self._record_batches(request)
            crash_point("load:inside_transaction")
            if request.before_commit is not None:
                request.before_commit()
            self.commit()
        except BaseException:
            self.rollback()
            raise
        return result

    def _apply(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> tuple[str, ...]:
        if request.mode is LoadMode.REPLACE:
            self._replace(request, staging, columns, types)
            return ()
        added = self._evolve(request, columns, types)
        rekey(self, request)  # the live table's key follows the configured one
        if request.mode is LoadMode.MERGE:
            self._merge(request, staging, columns)
        else:
            self._append(request, staging, columns)
        return added

    def _discard(self, staging: TableRef) -> None:
        """Drop a leftover staging table; a failure here must not hide the original error."""
        with contextlib.suppress(StageError):
            self.execute(f"DROP TABLE IF EXISTS {self.qualified(staging)}")

    def _rows_sql(self, request: LoadRequest, staging: TableRef, columns: list[str]) -> str:
        cols = ", ".join(self.q(c) for c in columns)
        if not (request.dedupe and request.primary_key):
            return f"SELECT {cols} FROM {self.qualified(staging)}"
        keys = ", ".join(self.q(c) for c in request.primary_key)
        return (
            f"SELECT {cols} FROM (SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY {keys} "
            f"ORDER BY {self.q(ORDINAL)} DESC) AS _sluice_rn FROM {self.qualified(staging)}"
            ") AS _sluice_d WHERE _sluice_rn = 1"
        )

    def _create_table_sql(
        self,
        table: TableRef,
        columns: list[str],
        types: dict[str, str],
        primary_key: tuple[str, ...],
    ) -> str:
        # NOT NULL spelled out: SQLite lets a NULL into a PRIMARY KEY column that is not an
        # INTEGER one, where every other system refuses it.
        parts = [f"{self.q(c)} {types[c]}{' NOT NULL' * (c in primary_key)}" for c in columns]
        if primary_key:
            parts.append("PRIMARY KEY (" + ", ".join(self.q(c) for c in primary_key) + ")")
        return f"CREATE TABLE {self.qualified(table)} ({', '.join(parts)})"

    def _replace(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> None:
        fresh = self.build_beside(request, staging, columns, types)
        self.before_swap(request.table, fresh)
        self.execute(f"DROP TABLE IF EXISTS {self.qualified(request.table)}")
        self.execute(f"ALTER TABLE {self.qualified(fresh)} RENAME TO {self.q(request.table.name)}")
        self.execute(
            f"DELETE FROM {self.q(STATE_TABLE)} WHERE sink_table = ?",
            (str(request.table),),
        )

    def build_beside(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> TableRef:
        """The replace's new table, beside the live one, filled from `staging`."""
        fresh = self.sibling(request.table, "__sluice_new_", request.run_id)
        cols = ", ".join(self.q(c) for c in columns)
        self.execute(f"DROP TABLE IF EXISTS {self.qualified(fresh)}")
        self.execute(self._create_table_sql(fresh, columns, types, request.primary_key))
        rows = self._rows_sql(request, staging, columns)
        self.execute(f"INSERT INTO {self.qualified(fresh)} ({cols}) {rows}")
        return fresh

    def _evolve(
        self, request: LoadRequest, columns: list[str], types: dict[str, str]
    ) -> tuple[str, ...]:
        live = self.table_columns(request.table)
        if live is None:
            self.execute(self._create_table_sql(request.table, columns, types, request.primary_key))
            return ()
        added = []
        for column in columns:
            incoming = types[column]
            if column not in live:
                self.execute(
                    f"ALTER TABLE {self.qualified(request.table)} "
                    f"ADD COLUMN {self.q(column)} {incoming}"
                )
                added.append(column)
                continue
            change = self.type_change(live[column], incoming)
            if change is Change.KEEP:
                continue
            if change is Change.WIDEN:
                self.alter_column_type(request.table, column, incoming)
                continue
            raise ReloadNeeded(
                f"column {column!r} of sink table {request.table} is {live[column]} but the "
                f"lake now has {incoming}: an incompatible type change (or change the sink "
                "column by hand)"
            )
        return tuple(added)

    def _merge(self, request: LoadRequest, staging: TableRef, columns: list[str]) -> None:
        if not request.primary_key:
            self._append(request, staging, columns)
            return
        target = self.qualified(request.table)
        match = " AND ".join(
            f"{self.q('_sluice_s')}.{self.q(c)} = {target}.{self.q(c)}" for c in request.primary_key
        )
        self.execute(
            f"DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {self.qualified(staging)} AS "
            f"{self.q('_sluice_s')} WHERE {match})"
        )
        cols = ", ".join(self.q(c) for c in columns)
        self.execute(f"INSERT INTO {target} ({cols}) {self._rows_sql(request, staging, columns)}")

    def _append(self, request: LoadRequest, staging: TableRef, columns: list[str]) -> None:
        cols = ", ".join(self.q(c) for c in columns)
        plain = LoadRequest(
            table=request.table,
            mode=request.mode,
            schema=request.schema,
            lake_table=request.lake_table,
            batch_ids=request.batch_ids,
            run_id=request.run_id,
        )
        self.execute(
            f"INSERT INTO {self.qualified(request.table)} ({cols}) "
            f"{self._rows_sql(plain, staging, columns)}"
        )


class _Upstream:
    """The batches a sink hands to its driver, keeping an error their producer raised.

    A driver that pulls a Python iterator (ADBC ingest, DuckDB) reports the producer's error as
    its own, flattened to text with a traceback; the load raises the original instead (a lake
    storage error the engine sorts into retry or not, a data error with its own message).
    """

    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self._batches = batches
        self.error: Exception | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._batches
        except Exception as exc:
            self.error = exc
            raise


def _with_ordinal(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Number the rows in stream order, so deduplication keeps the newest version of a key."""
    start = 0
    for batch in batches:
        ordinal = pa.array(range(start, start + batch.num_rows), type=pa.int64())
        start += batch.num_rows
        yield pa.RecordBatch.from_arrays([*batch.columns, ordinal], schema=schema)
