"""What a SQL sink keeps beside the data, the same way for every SQL sink: the state table
recording the lake batches each table holds, the sibling tables a load builds (and a killed
load leaves), and the profile of a table's columns that verify_sink compares with the lake."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa

from sluice.connectors.base import ColumnProfile, LoadRequest
from sluice.connectors.dialect import Dialect
from sluice.core.bounds import bounded, first_value
from sluice.core.clock import iso, utcnow
from sluice.core.errors import TerminalError
from sluice.core.models import TableRef

log = logging.getLogger("sluice.sink")

STATE_TABLE = "_sluice_state"
# The names of the tables a load builds beside its target: see SqlSinkState.sibling.
_SIBLING = re.compile(r"^(__sluice_stage_|__sluice_new_)(\d+)_")
# A sibling's name stays 3 bytes within the sink's identifier limit, and at most this long.
_SIBLING_MAX_BYTES = 60


class SqlSinkState:
    """The primitives a SQL sink implements, and the state kept with them."""

    dialect: ClassVar[Dialect]

    def q(self, name: str) -> str:
        """`name` quoted as this system quotes identifiers."""
        return self.dialect.quote(name)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        raise NotImplementedError

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def table_columns(self, table: TableRef) -> dict[str, str] | None:
        """Column name -> declared type, or None when the table does not exist."""
        raise NotImplementedError

    def primary_key_of(self, table: TableRef) -> tuple[str, ...] | None:
        """The live table's primary key columns in order: () without one, None without table."""
        raise NotImplementedError

    def sibling_names(self, schema: str | None) -> list[str]:
        """Names of the tables in `schema` (the default one for None) that start with one
        of SIBLING_PREFIXES: the candidates for leftovers of killed loads."""
        raise NotImplementedError

    def bulk_stage(
        self, staging: TableRef, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
    ) -> int:
        """Create `staging` for `schema` and load the batches by the native bulk path."""
        raise NotImplementedError

    def alter_column_type(self, table: TableRef, column: str, new_type: str) -> str:
        raise TerminalError("this sink cannot change a column's type")

    def row_count_of(self, table: TableRef) -> int:
        return int(self.query(f"SELECT count(*) FROM {self.qualified(table)}")[0][0])

    # ---- shared helpers ---------------------------------------------------------------

    def qualified(self, table: TableRef) -> str:
        if table.schema:
            return f"{self.q(table.schema)}.{self.q(table.name)}"
        return self.q(table.name)

    def sibling(self, table: TableRef, prefix: str, run_id: int) -> TableRef:
        """The table a load by run `run_id` builds beside `table`, in the same schema.

        The name is unique to (prefix, run, table): a name too long for the limit keeps its
        head and gains a hash of the whole, so two long names that begin alike never share
        a sibling, and a leftover can be told apart from another table's exactly.
        """
        name = f"{prefix}{run_id}_{table.name}"
        limit = self.dialect.max_identifier_bytes
        most = _SIBLING_MAX_BYTES if limit is None else min(_SIBLING_MAX_BYTES, limit - 3)
        if len(name.encode()) > most:
            digest = hashlib.blake2b(table.name.encode(), digest_size=4).hexdigest()
            head = name.encode()[: most - len(digest) - 1]
            name = f"{head.decode(errors='ignore')}_{digest}"
        return TableRef(name=name, schema=table.schema)

    def drop_stale_siblings(self, table: TableRef, run_id: int) -> list[str]:
        """Drop what killed loads of `table` left beside it (staging and half-built tables).

        Only one load of a table runs at a time (the engine's run lock), so a sibling of
        `table` from another run is a leftover; a name counts only when it is exactly the
        name `sibling` gives this table for that run, so other tables' siblings stay.
        """
        dropped = []
        for name in self.sibling_names(table.schema):
            match = _SIBLING.match(name)
            if match is None or int(match.group(2)) == run_id:
                continue
            if self.sibling(table, match.group(1), int(match.group(2))).name != name:
                continue
            self.execute(f"DROP TABLE IF EXISTS {self.qualified(TableRef(name, table.schema))}")
            dropped.append(name)
        if dropped:
            log.info("dropped leftovers of interrupted loads of %s: %s", table, ", ".join(dropped))
        return dropped

    def ensure_state_table(self) -> None:
        self.execute(
            f"CREATE TABLE IF NOT EXISTS {self.q(STATE_TABLE)} ("
            "sink_table TEXT NOT NULL, lake_table TEXT NOT NULL, batch_id BIGINT NOT NULL, "
            "run_id BIGINT NOT NULL, loaded_at TEXT NOT NULL, batch_uid TEXT, "
            "PRIMARY KEY (sink_table, batch_id))"
        )
        columns = self.table_columns(TableRef(STATE_TABLE)) or {}
        if "batch_uid" not in {name.lower() for name in columns}:
            # A state table made before batches had ids: its rows keep NULL (unverifiable).
            self.execute(f"ALTER TABLE {self.q(STATE_TABLE)} ADD COLUMN batch_uid TEXT")

    def column_profile(
        self, table: TableRef, columns: list[str], bounded: dict[str, pa.DataType]
    ) -> ColumnProfile:
        """One scan: count() of every column, min() and max() of those this sink holds
        exactly (`exact_bounds`), read back as Arrow so no value passes through Python's
        calendar (which stops at year 1 and 9999)."""
        if not columns:
            return ColumnProfile({}, {})
        ranged = [c for c, kind in bounded.items() if self.exact_bounds(kind)]
        listed = [f"count({self.q(c)})" for c in columns] + [
            self.bound_sql(aggregate, self.q(c), bounded[c])
            for c in ranged
            for aggregate in ("min", "max")
        ]
        result = self.query_arrow(f"SELECT {', '.join(listed)} FROM {self.qualified(table)}")
        values = {c: int(result.column(i)[0].as_py()) for i, c in enumerate(columns)}
        bounds = {}
        for i, column in enumerate(ranged):
            offset = len(columns) + 2 * i
            low, high = first_value(result.column(offset)), first_value(result.column(offset + 1))
            if low is not None and high is not None:
                bounds[column] = (low, high)
        return ColumnProfile(values, bounds)

    def exact_bounds(self, kind: pa.DataType) -> bool:
        """Whether this sink's min() and max() of a column loaded from `kind` are the
        lake's values (by default: every kind that has bounds)."""
        return bounded(kind)

    def bound_sql(self, aggregate: str, quoted: str, kind: pa.DataType) -> str:
        """The select-list item for min() or max() of a column loaded from `kind`."""
        return f"{aggregate}({quoted})"

    def query_arrow(self, sql: str) -> pa.Table:
        raise NotImplementedError

    def held_batches(self, table: TableRef, lake_table: str) -> set[int]:
        return set(self.held_identities(table, lake_table))

    def held_identities(self, table: TableRef, lake_table: str) -> dict[int, str | None]:
        state = self.table_columns(TableRef(STATE_TABLE))
        if state is None or self.table_columns(table) is None:
            return {}
        uid = "batch_uid" if "batch_uid" in {n.lower() for n in state} else "NULL"
        rows = self.query(
            f"SELECT batch_id, {uid} FROM {self.q(STATE_TABLE)} WHERE sink_table = ?",
            (str(table),),
        )
        return {int(row[0]): None if row[1] is None else str(row[1]) for row in rows}

    def _record_batches(self, request: LoadRequest) -> None:
        loaded_at = iso(utcnow())
        uids = request.batch_uids or (None,) * len(request.batch_ids)
        for batch_id, uid in zip(request.batch_ids, uids, strict=True):
            self.execute(
                f"INSERT INTO {self.q(STATE_TABLE)} "
                "(sink_table, lake_table, batch_id, run_id, loaded_at, batch_uid) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (str(request.table), request.lake_table, batch_id, request.run_id, loaded_at, uid),
            )
