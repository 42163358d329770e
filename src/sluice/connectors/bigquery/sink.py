"""BigQuery sink: the rows are written as a Parquet file, loaded by a load job into a staging
table, then applied by SQL.

BigQuery runs DDL on tables outside transactions, and a transaction is one script, so the
steps are ordered that a process killed at any point leaves no half-loaded table and no batch
recorded that is not loaded:

    merge / append   DDL first (create the table, add or widen columns: each complete on its
                     own and harmless when repeated), then ONE script in ONE transaction:
                     MERGE on the key (or INSERT), then the state rows
    replace, the live table holds the new rows' columns (or there is none yet: it is created
                     empty first)
                     ONE transaction: DELETE all + INSERT + the state rows (the table keeps
                     its layout, policies and time travel)
    replace, other columns or types
                     record an intent in the state table, then CREATE OR REPLACE TABLE ... AS
                     SELECT (one atomic statement), then ONE transaction replaces the state
                     rows. Killed between the swap and that transaction, the intent says the
                     table's content is unknown: the next load takes every current batch
                     again (replace and merge are idempotent; an append refuses, naming the fix)

A statement that fails inside a transaction script ends it, and BigQuery rolls the
transaction back. The run's fence is checked just before the script is sent.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from sluice.connectors.base import LoadRequest, LoadResult
from sluice.connectors.bigquery import DIALECT
from sluice.connectors.bigquery.config import BigQueryCreds
from sluice.connectors.bigquery.connection import BigQuery
from sluice.connectors.bigquery.layout import layout_sql
from sluice.connectors.bigquery.sql import bind, check_column_name, check_table_name, quote
from sluice.connectors.bigquery.types import staged_columns, writable
from sluice.connectors.dialect import Dialect
from sluice.connectors.sinkstate import STATE_TABLE
from sluice.connectors.sqlsink import Change, SqlSinkBase
from sluice.connectors.swapintent import SwapIntents
from sluice.core.errors import ReloadNeeded, TerminalError
from sluice.core.models import LoadMode, TableRef

log = logging.getLogger("sluice.bigquery")

# Digits of an unparameterized NUMERIC and BIGNUMERIC column: (precision, scale).
_FULL = {"NUMERIC": (38, 9), "BIGNUMERIC": (76, 38)}


class BigQuerySink(SwapIntents, SqlSinkBase):
    type_name: ClassVar[str] = "bigquery"
    dialect: ClassVar[Dialect] = DIALECT

    def __init__(self, creds: BigQueryCreds) -> None:
        self.creds = creds
        self.bq = BigQuery(creds)
        # The statements of the transaction under way (None: none is), sent as one script.
        self._script: list[str] | None = None
        # The load under way: its table options shape the tables it creates.
        self._request: LoadRequest | None = None

    def load(self, request: LoadRequest, batches: Iterable[pa.RecordBatch]) -> LoadResult:
        check_table_name(request.table.name)
        for field in request.schema:
            check_column_name(request.table, field.name)
        staged_columns(request.table, request.schema)  # a type it cannot hold fails first
        self._request = request
        try:
            return super().load(request, batches)
        finally:
            self._request = None

    # ---- primitives ---------------------------------------------------------------------

    def q(self, name: str) -> str:
        return quote(name)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        statement = bind(sql, params)
        if self._script is not None:
            self._script.append(statement)
        else:
            self.bq.run(statement)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self._script is not None:
            raise RuntimeError("a BigQuery transaction is one script: no reads inside it")
        return self.bq.rows(bind(sql, params))

    def query_arrow(self, sql: str) -> pa.Table:
        table = self.bq.arrow(sql)
        return table.rename_columns([f"c{i}" for i in range(table.num_columns)])

    def begin(self) -> None:
        self._script = []

    def commit(self) -> None:
        statements, self._script = self._script or [], None
        if statements:
            body = ";\n".join(statements)
            self.bq.run(f"BEGIN TRANSACTION;\n{body};\nCOMMIT TRANSACTION;")

    def rollback(self) -> None:
        self._script = None  # nothing was sent

    def ping(self) -> str:
        self._dataset_exists()
        return f"BigQuery {self.creds.location_name()}"

    def prepare(self, request: LoadRequest) -> None:
        self._dataset_exists()
        super().prepare(request)

    def _dataset_exists(self) -> None:
        if not self.bq.dataset_exists():
            raise TerminalError(
                f"BigQuery dataset {self.creds.project}.{self.creds.dataset} does not exist: "
                f"create it (bq mk --location={self.creds.location} {self.creds.dataset}) or "
                "fix 'dataset' in the creds"
            )

    def ensure_state_table(self) -> None:
        self.execute(
            f"CREATE TABLE IF NOT EXISTS {self.q(STATE_TABLE)} ("
            "sink_table STRING NOT NULL, lake_table STRING NOT NULL, batch_id INT64 NOT NULL, "
            "run_id INT64 NOT NULL, loaded_at STRING NOT NULL, batch_uid STRING)"
        )

    def _catalog(self, table: TableRef) -> str:
        """The INFORMATION_SCHEMA of `table`'s dataset."""
        dataset = table.schema or self.creds.dataset
        # One quoted `project.dataset`: the form the emulator reads as BigQuery does.
        return f"{self.q(f'{self.creds.project}.{dataset}')}.INFORMATION_SCHEMA"

    def table_columns(self, table: TableRef) -> dict[str, str] | None:
        rows = self.query(
            f"SELECT column_name, data_type FROM {self._catalog(table)}.COLUMNS "
            "WHERE table_name = ? ORDER BY ordinal_position",
            (table.name,),
        )
        if not rows:
            return None
        return {str(name): _spelled(str(kind)) for name, kind in rows}

    def primary_key_of(self, table: TableRef) -> tuple[str, ...] | None:
        """BigQuery's keys are not enforced; sluice declares none and merges on the
        configured one, so a table's key is always the configured one."""
        return None if self.table_columns(table) is None else ()

    def sibling_names(self, schema: str | None) -> list[str]:
        rows = self.query(
            f"SELECT table_name FROM {self._catalog(TableRef('', schema))}.TABLES "
            "WHERE STARTS_WITH(table_name, '__sluice_')"
        )
        return [str(row[0]) for row in rows]

    def alter_column_type(self, table: TableRef, column: str, new_type: str) -> str:
        self.execute(
            f"ALTER TABLE {self.qualified(table)} ALTER COLUMN {self.q(column)} "
            f"SET DATA TYPE {new_type}"
        )
        return new_type

    def close(self) -> None:
        self.bq.close()

    # ---- types --------------------------------------------------------------------------

    def final_types(self, request: LoadRequest, staging: TableRef) -> dict[str, str]:
        return {c.name: c.declared for c in staged_columns(request.table, request.schema)}

    def type_change(self, live: str, incoming: str) -> Change:
        """Whether the live column holds the incoming values exactly (KEEP), can be altered
        to (WIDEN: a NUMERIC's precision at the same scale), or not."""
        have, want = _digits(live), _digits(incoming)
        if have is None or want is None:
            if _spelled(live) == _spelled(incoming):
                return Change.KEEP
            if want is not None and _spelled(live) == "INT64":
                return Change.REFUSE
            if have is not None and _spelled(incoming) == "INT64":
                # An INT64 (19 digits) fits a NUMERIC or BIGNUMERIC with 19 integer digits.
                return Change.KEEP if have[0] - have[1] >= 19 else Change.REFUSE
            return Change.REFUSE
        (have_p, have_s), (want_p, want_s) = have, want
        if have_s >= want_s and have_p - have_s >= want_p - want_s:
            return Change.KEEP
        same_kind = live.split("(")[0] == incoming.split("(")[0]
        return Change.WIDEN if same_kind and have_s == want_s else Change.REFUSE

    # ---- staging ------------------------------------------------------------------------

    def bulk_stage(
        self, staging: TableRef, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
    ) -> int:
        columns = staged_columns(staging, schema)
        listed = ", ".join(f"{self.q(c.name)} {c.declared}" for c in columns)
        # Expires on its own should a killed load leave it and no later load tidy it.
        self.execute(
            f"CREATE TABLE {self.qualified(staging)} ({listed}) "
            "OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 7 DAY))"
        )
        with tempfile.TemporaryDirectory(prefix="sluice-bigquery-") as folder:
            path = Path(folder) / "rows.parquet"
            rows = _write_parquet(path, staging, batches, columns)
            if rows:
                loaded = self.bq.load_parquet(path, self._dataset_table(staging))
                if loaded != rows:
                    raise TerminalError(
                        f"the load job into {staging} on BigQuery loaded {loaded} of {rows} "
                        "rows; nothing was applied"
                    )
        return rows

    def _dataset_table(self, table: TableRef) -> str:
        return f"{table.schema or self.creds.dataset}.{table.name}"

    # ---- applying -----------------------------------------------------------------------

    def apply_staged(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> tuple[str, ...]:
        interrupted = self.interrupted_replace(request.table)
        if interrupted is not None and request.mode is LoadMode.APPEND:
            raise ReloadNeeded(
                f"a replace of BigQuery table {request.table} by run {interrupted} stopped "
                "after its swap may have happened, so which rows the table holds is not known "
                "and appending could double them; nothing was loaded"
            )
        self._refuse_null_keys(request, staging)
        added: tuple[str, ...] = ()
        if request.mode is LoadMode.REPLACE:
            live = self.table_columns(request.table)
            if live is None:
                self.execute(self._create_table_sql(request.table, columns, types,
                                                    request.primary_key))  # fmt: skip
                live = types
            if list(live) == columns and all(
                self.type_change(live[c], types[c]) is Change.KEEP for c in columns
            ):
                self.commit_with_batches(request, lambda: self._refill(request, staging, columns))
            else:
                self._swap_in(request, staging, columns, types)
        else:
            added = self._evolve(request, columns, types)
            apply = self._merge if request.mode is LoadMode.MERGE else self._append
            self.commit_with_batches(request, lambda: apply(request, staging, columns))
        self.execute(f"DROP TABLE IF EXISTS {self.qualified(staging)}")
        return added

    def _refuse_null_keys(self, request: LoadRequest, staging: TableRef) -> None:
        """A NULL in the configured key fails the load before anything is applied (BigQuery
        enforces the key's NOT NULL on insert, but a table built by CREATE ... AS SELECT
        takes its columns' modes from the query)."""
        if not request.primary_key:
            return
        counts = ", ".join(f"COUNTIF({self.q(c)} IS NULL)" for c in request.primary_key)
        found = self.query(f"SELECT {counts} FROM {self.qualified(staging)}")[0]
        nulls = {c: int(n) for c, n in zip(request.primary_key, found, strict=True) if n}
        if nulls:
            listed = ", ".join(f"{c!r} ({n} rows)" for c, n in nulls.items())
            raise TerminalError(
                f"the rows for BigQuery table {request.table} hold NULL in primary key column "
                f"{listed}; nothing was loaded: fix the key (`sluice table edit --primary-key`) "
                "or the rows at the source"
            )

    def _create_table_sql(
        self,
        table: TableRef,
        columns: list[str],
        types: dict[str, str],
        primary_key: tuple[str, ...],
    ) -> str:
        listed = ", ".join(
            f"{self.q(c)} {types[c]}{' NOT NULL' * (c in primary_key)}" for c in columns
        )
        layout = self._layout(table, types)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified(table)} ({listed}) {layout}".rstrip()

    def _layout(self, table: TableRef, types: dict[str, str]) -> str:
        if self._request is None:
            return ""
        return layout_sql(table, self._request.partition_by, self._request.cluster_by, types)

    def _refill(self, request: LoadRequest, staging: TableRef, columns: list[str]) -> None:
        cols = ", ".join(self.q(c) for c in columns)
        target = self.qualified(request.table)
        self.execute(f"DELETE FROM {target} WHERE TRUE")
        self.execute(f"INSERT INTO {target} ({cols}) {self._rows_sql(request, staging, columns)}")
        self.execute(
            f"DELETE FROM {self.q(STATE_TABLE)} WHERE sink_table = ?", (str(request.table),)
        )

    def _merge(self, request: LoadRequest, staging: TableRef, columns: list[str]) -> None:
        if not request.primary_key:
            self._append(request, staging, columns)
            return
        on = " AND ".join(f"_sluice_t.{self.q(c)} = _sluice_s.{self.q(c)}"
                          for c in request.primary_key)  # fmt: skip
        rest = [c for c in columns if c not in request.primary_key]
        update = ", ".join(f"{self.q(c)} = _sluice_s.{self.q(c)}" for c in rest)
        cols = ", ".join(self.q(c) for c in columns)
        values = ", ".join(f"_sluice_s.{self.q(c)}" for c in columns)
        matched = f"WHEN MATCHED THEN UPDATE SET {update} " if rest else ""
        self.execute(
            f"MERGE {self.qualified(request.table)} AS _sluice_t "
            f"USING ({self._rows_sql(request, staging, columns)}) AS _sluice_s ON {on} "
            f"{matched}WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})"
        )

    def _rows_sql(self, request: LoadRequest, staging: TableRef, columns: list[str]) -> str:
        # MERGE refuses a target row that two source rows match: a merge always takes the
        # newest row per key, as a deduplicating load does.
        if request.mode is LoadMode.MERGE and request.primary_key and not request.dedupe:
            request = dataclasses.replace(request, dedupe=True)
        return super()._rows_sql(request, staging, columns)

    def _swap_in(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> None:
        listed = ", ".join(
            f"{self.q(c)} {types[c]}{' NOT NULL' * (c in request.primary_key)}" for c in columns
        )
        layout = self._layout(request.table, types)
        self.swap_with_intent(
            request,
            lambda: self.execute(
                f"CREATE OR REPLACE TABLE {self.qualified(request.table)} ({listed}) {layout} "
                f"AS {self._rows_sql(request, staging, columns)}"
            ),
        )


def _spelled(declared: str) -> str:
    """A type as sluice compares it: upper case, no spaces (`NUMERIC(12, 2)` -> `NUMERIC(12,2)`)."""
    return "".join(declared.upper().split())


def _digits(declared: str) -> tuple[int, int] | None:
    """(precision, scale) of a NUMERIC or BIGNUMERIC type, or None for another type."""
    spelled = _spelled(declared)
    kind, _, params = spelled.partition("(")
    if kind not in _FULL:
        return None
    if not params:
        return _FULL[kind]
    precision, _, scale = params.rstrip(")").partition(",")
    return int(precision), int(scale or 0)


def _write_parquet(
    path: Path, table: TableRef, batches: Iterator[pa.RecordBatch], columns: list[Any]
) -> int:
    """The batches as one Parquet file (a load job takes files of any size); its rows."""
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(c.name, c.wire) for c in columns])
    rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(writable(table, batch, columns))
                rows += batch.num_rows
    return rows
