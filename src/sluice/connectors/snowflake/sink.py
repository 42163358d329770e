"""Snowflake sink: the rows are written as Parquet files, PUT on a temporary stage and loaded
with COPY INTO a transient staging table; then the shared SQL steps apply them.

Snowflake commits DDL implicitly, so the one-transaction apply of sqlsink.py is ordered so
that a process killed at any point leaves no half-loaded table and no batch recorded that is
not loaded:

    merge / append   DDL first (create the table, add columns, key: each complete on its
                     own and harmless when repeated), then ONE transaction: DELETE the
                     staged keys + INSERT the staged rows (or INSERT only), record the batches
    replace, the live table holds the new rows' columns
                     ONE transaction: DELETE all + INSERT + the state rows (the table keeps
                     its grants, clustering and time travel)
    replace, new columns or types, or no table yet
                     build the new table beside the live one, record an intent in the state
                     table, swap it in (CREATE OR REPLACE ... CLONE ... COPY GRANTS, one
                     atomic statement), then ONE transaction replaces the state rows. Killed
                     between the swap and that transaction, the intent says the table's
                     content is unknown: the next load takes every current batch again
                     (replace and merge are idempotent; an append refuses, naming the fix).

DELETE + INSERT rather than MERGE: the state rows must commit with the data, and the stand-in
the tests run against (fakesnow) cannot MERGE inside an explicit transaction.
"""

from __future__ import annotations

import logging
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from sluice.connectors.base import LoadRequest, LoadResult
from sluice.connectors.dialect import Dialect
from sluice.connectors.sinkstate import STATE_TABLE
from sluice.connectors.snowflake import DIALECT
from sluice.connectors.snowflake.config import SnowflakeCreds
from sluice.connectors.snowflake.connection import connect, translate
from sluice.connectors.snowflake.types import StagedColumn, staged_columns, writable
from sluice.connectors.sqlsink import Change, SqlSinkBase
from sluice.connectors.swapintent import SwapIntents
from sluice.core.errors import ReloadNeeded, StageError, TerminalError
from sluice.core.models import LoadMode, TableRef

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection
    from snowflake.connector.cursor import SnowflakeCursor

log = logging.getLogger("sluice.snowflake")

# A staged Parquet file is closed after about this many bytes of Arrow data: Snowflake loads
# files in parallel and recommends 100-250 MB compressed per file.
STAGED_FILE_BYTES = 256 << 20
_FILE_FORMAT = "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE BINARY_AS_TEXT = FALSE)"
_SIZED = re.compile(
    r"^(NUMBER|TIMESTAMP_NTZ|TIMESTAMP_TZ|TIMESTAMP_LTZ|TIME|VARCHAR|BINARY)"
    r"(?:\((\d+)(?:,(\d+))?\))?$"
)
# Lengths Snowflake reports for a VARCHAR or BINARY declared without one.
_DEFAULT_LENGTH = {"VARCHAR": 16777216, "BINARY": 8388608}
_UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


class SnowflakeSink(SwapIntents, SqlSinkBase):
    type_name: ClassVar[str] = "snowflake"
    dialect: ClassVar[Dialect] = DIALECT

    def __init__(self, creds: SnowflakeCreds) -> None:
        self.creds = creds
        self._connection: SnowflakeConnection = connect(creds)
        self._cursor: SnowflakeCursor = self._connection.cursor()
        # The lake files the load under way PUTs as they are (see load).
        self._lake_files: tuple[Path, ...] = ()

    def load(self, request: LoadRequest, batches: Iterable[pa.RecordBatch]) -> LoadResult:
        """By reference where it can: the lake's own Parquet files are PUT and loaded when
        their stored types load into the columns exactly and no deduplication needs the
        rows' order; otherwise the rows are written to new files first."""
        columns = staged_columns(request.table, request.schema)
        by_reference = (
            request.files
            and request.files_schema is not None
            # PUT names the file inside a quoted literal; a quote in the path stays out of SQL.
            and not any("'" in path for path in request.files)
            and not request.dedupe
            and all(
                _copies_exactly(request.files_schema.field(c.name).type, c.declared)
                for c in columns
            )
        )
        self._lake_files = tuple(Path(path) for path in request.files) if by_reference else ()
        try:
            return super().load(request, batches)
        finally:
            self._lake_files = ()

    # ---- primitives ---------------------------------------------------------------------

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> SnowflakeCursor:
        import snowflake.connector

        try:
            return self._cursor.execute(sql, params or None)  # type: ignore[return-value]
        except snowflake.connector.errors.Error as exc:
            raise translate(exc, self.creds) from None

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self._run(sql, params)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._run(sql, params).fetchall()]

    def query_arrow(self, sql: str) -> pa.Table:
        # Snowflake's dates and timestamps lie within Python's calendar (years 1 to 9999),
        # so the rows convert exactly; Arrow infers each column's type from its values.
        rows = self.query(sql)
        names = [f"c{i}" for i in range(len(rows[0]) if rows else 0)]
        return pa.table([pa.array(list(column)) for column in zip(*rows, strict=True)], names)

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        try:
            self.execute("ROLLBACK")
        except StageError as exc:  # the original error matters more
            log.warning("rollback on Snowflake failed: %s", exc)

    def ping(self) -> str:
        version = self._where_loads_go()
        return f"Snowflake {version} at {self.creds.location()}"

    def prepare(self, request: LoadRequest) -> None:
        self._where_loads_go()
        super().prepare(request)

    def _where_loads_go(self) -> str:
        """The server's version, once the session has the creds' database and schema (the
        driver logs in without them when they do not exist or the role cannot use them)."""
        version, database, schema = self.query(
            "SELECT CURRENT_VERSION(), CURRENT_DATABASE(), CURRENT_SCHEMA()"
        )[0]
        asked = {"database": self.creds.database, "schema": self.creds.schema_}
        found = {"database": database, "schema": schema}
        missing = next(
            (name for name in asked if str(found[name]).upper() != asked[name].upper()), None
        )
        if missing is not None:
            raise TerminalError(
                f"Snowflake {self.creds.location()}: the {missing} does not exist or the role "
                f"cannot use it; create it (CREATE {missing.upper()} ...), grant USAGE on it "
                f"to the role, or fix '{missing}' in the creds"
            )
        return str(version)

    def table_columns(self, table: TableRef) -> dict[str, str] | None:
        # information_schema rather than DESCRIBE: the name is a value, never SQL. A type is
        # spelled as DESCRIBE spells it, but timestamps and times without their digits
        # (the stand-in's catalog lacks DATETIME_PRECISION; see type_change).
        schema = "?" if table.schema else "CURRENT_SCHEMA()"
        rows = self.query(
            "SELECT column_name, data_type, numeric_precision, numeric_scale, "
            "character_maximum_length FROM information_schema.columns "
            f"WHERE table_schema = {schema} AND table_name = ? ORDER BY ordinal_position",
            (table.schema, table.name) if table.schema else (table.name,),
        )
        if not rows:
            return None
        return {str(name): _declared(*kind) for name, *kind in rows}

    def primary_key_of(self, table: TableRef) -> tuple[str, ...] | None:
        if self.table_columns(table) is None:
            return None
        cursor = self._run(f"SHOW PRIMARY KEYS IN TABLE {self.qualified(table)}")
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        rows.sort(key=lambda row: int(row["key_sequence"]))
        return tuple(str(row["column_name"]) for row in rows)

    def sibling_names(self, schema: str | None) -> list[str]:
        where = "table_schema = ?" if schema else "table_schema = CURRENT_SCHEMA()"
        rows = self.query(
            f"SELECT table_name FROM information_schema.tables WHERE {where} "
            "AND STARTSWITH(table_name, '__sluice_')",
            (schema,) if schema else (),
        )
        return [str(row[0]) for row in rows]

    def alter_column_type(self, table: TableRef, column: str, new_type: str) -> str:
        self.execute(
            f"ALTER TABLE {self.qualified(table)} ALTER COLUMN {self.q(column)} "
            f"SET DATA TYPE {new_type}"
        )
        return new_type

    def close(self) -> None:
        self._cursor.close()
        self._connection.close()

    # ---- types --------------------------------------------------------------------------

    def final_types(self, request: LoadRequest, staging: TableRef) -> dict[str, str]:
        return {c.name: c.declared for c in staged_columns(request.table, request.schema)}

    def type_change(self, live: str, incoming: str) -> Change:
        """Whether the live column holds the incoming values exactly (KEEP), can be altered
        in place to do so (WIDEN: a NUMBER's precision, a VARCHAR's length), or not."""
        have, want = _sized(live), _sized(incoming)
        if have is None or want is None or have[0] != want[0]:
            return Change.KEEP if _spelled(live) == _spelled(incoming) else Change.REFUSE
        kind, (have_size, have_scale), (want_size, want_scale) = have[0], have[1:], want[1:]
        if kind == "NUMBER":
            if have_scale >= want_scale and have_size - have_scale >= want_size - want_scale:
                return Change.KEEP
            return Change.WIDEN if have_scale == want_scale else Change.REFUSE
        if have_size >= want_size:
            return Change.KEEP
        return Change.WIDEN if kind in _DEFAULT_LENGTH else Change.REFUSE

    # ---- staging ------------------------------------------------------------------------

    def bulk_stage(
        self, staging: TableRef, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
    ) -> int:
        columns = staged_columns(staging, schema)
        if staging.schema:
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {self.q(staging.schema)}")
        listed = ", ".join(f"{self.q(c.name)} {c.declared}" for c in columns)
        # Transient: a table that lives for one load needs no fail-safe copy.
        self.execute(f"CREATE TRANSIENT TABLE {self.qualified(staging)} ({listed})")
        if self._lake_files:
            rows = sum(_parquet_rows(path) for path in self._lake_files)
            log.info("loading %d lake files into %s as they are", len(self._lake_files), staging)
            self._copy_files(staging, list(self._lake_files), rows)
            return rows
        with tempfile.TemporaryDirectory(prefix="sluice-snowflake-") as folder:
            files, rows = _write_parquet(Path(folder), batches, columns)
            if files:
                self._copy_files(staging, files, rows)
        return rows

    def _copy_files(self, staging: TableRef, files: list[Path], rows: int) -> None:
        """PUT the files on a stage of this session and COPY them into `staging`, checking
        that every file loaded whole."""
        stage = self.q(f"sluice_load_{uuid.uuid4().hex}")
        # Temporary: the stage and any file left on it go with the session, however it ends;
        # PURGE removes the files as soon as they are loaded.
        self.execute(f"CREATE TEMPORARY STAGE {stage}")
        for number, path in enumerate(files):
            # A folder each: lake batches name their files alike (part-00000.parquet).
            put = f"PUT 'file://{path.as_posix()}' @{stage}/{number:06d}"
            self.execute(f"{put} PARALLEL = 8 AUTO_COMPRESS = FALSE")
        # By name, exactly: the files' columns are the staging table's, quoted names and all.
        result = self.query(
            f"COPY INTO {self.qualified(staging)} FROM @{stage} {_FILE_FORMAT} "
            "MATCH_BY_COLUMN_NAME = CASE_SENSITIVE ON_ERROR = ABORT_STATEMENT PURGE = TRUE"
        )
        loaded = sum(int(row[3]) for row in result if str(row[1]) == "LOADED")
        if len(result) != len(files) or loaded != rows:
            raise TerminalError(
                f"COPY INTO {staging} on Snowflake loaded {loaded} of {rows} rows from "
                f"{len(files)} staged files ({[tuple(row[:3]) for row in result]}); nothing "
                "was applied"
            )

    # ---- applying -----------------------------------------------------------------------

    def apply_staged(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> tuple[str, ...]:
        interrupted = self.interrupted_replace(request.table)
        if interrupted is not None and request.mode is LoadMode.APPEND:
            raise ReloadNeeded(
                f"a replace of Snowflake table {request.table} by run {interrupted} stopped "
                "after its swap may have happened, so which rows the table holds is not known "
                "and appending could double them; nothing was loaded"
            )
        added: tuple[str, ...] = ()
        if request.mode is LoadMode.REPLACE:
            live = self.table_columns(request.table)
            if live is not None and self._holds(live, columns, types, request):
                self.commit_with_batches(request, lambda: self._refill(request, staging, columns))
            else:
                self._swap_in(request, staging, columns, types)
        else:
            added = self._evolve(request, columns, types)
            self._rekey(request)
            apply = self._merge if request.mode is LoadMode.MERGE else self._append
            self.commit_with_batches(request, lambda: apply(request, staging, columns))
        self.execute(f"DROP TABLE IF EXISTS {self.qualified(staging)}")
        return added

    def _holds(
        self,
        live: dict[str, str],
        columns: list[str],
        types: dict[str, str],
        request: LoadRequest,
    ) -> bool:
        """Whether the live table takes the new rows as it is: the same columns in the same
        order, each holding its incoming values exactly, under the configured key."""
        if list(live) != columns:
            return False
        if any(self.type_change(live[c], types[c]) is not Change.KEEP for c in columns):
            return False
        return self.primary_key_of(request.table) == request.primary_key

    def _refill(self, request: LoadRequest, staging: TableRef, columns: list[str]) -> None:
        cols = ", ".join(self.q(c) for c in columns)
        target = self.qualified(request.table)
        self.execute(f"DELETE FROM {target}")
        self.execute(f"INSERT INTO {target} ({cols}) {self._rows_sql(request, staging, columns)}")
        self.execute(
            f"DELETE FROM {self.q(STATE_TABLE)} WHERE sink_table = ?", (str(request.table),)
        )

    def _swap_in(
        self, request: LoadRequest, staging: TableRef, columns: list[str], types: dict[str, str]
    ) -> None:
        fresh = self.build_beside(request, staging, columns, types)
        self.swap_with_intent(
            request,
            lambda: self.execute(
                f"CREATE OR REPLACE TABLE {self.qualified(request.table)} "
                f"CLONE {self.qualified(fresh)} COPY GRANTS"
            ),
        )
        self.execute(f"DROP TABLE IF EXISTS {self.qualified(fresh)}")

    def _rekey(self, request: LoadRequest) -> None:
        """Snowflake does not enforce a standard table's key: changing it is metadata only."""
        live = self.primary_key_of(request.table)
        if live is None or live == request.primary_key:
            return
        target = self.qualified(request.table)
        if live:
            self.execute(f"ALTER TABLE {target} DROP PRIMARY KEY")
        if request.primary_key:
            keys = ", ".join(self.q(c) for c in request.primary_key)
            self.execute(f"ALTER TABLE {target} ADD PRIMARY KEY ({keys})")


def _declared(kind: str, precision: Any, scale: Any, length: Any) -> str:
    """A column's type from its catalog row, as DESCRIBE spells it."""
    kind = {"TEXT": "VARCHAR"}.get(str(kind).upper(), str(kind).upper())
    if kind == "NUMBER" and precision is not None:
        return f"NUMBER({int(precision)},{int(scale or 0)})"
    if kind in _DEFAULT_LENGTH and length is not None:
        return f"{kind}({int(length)})"
    return kind


def _sized(declared: str) -> tuple[str, int, int] | None:
    """(kind, size, scale) of a sized type as Snowflake spells it, or None."""
    match = _SIZED.match(_spelled(declared))
    if match is None:
        return None
    kind = match.group(1)
    if match.group(2) is None:
        size = _DEFAULT_LENGTH.get(kind, 38 if kind == "NUMBER" else 9)
        return kind, size, 0
    return kind, int(match.group(2)), int(match.group(3) or 0)


def _spelled(declared: str) -> str:
    return "".join(declared.upper().split())


def _copies_exactly(stored: pa.DataType, declared: str) -> bool:
    """Whether COPY INTO of a Parquet column of `stored` type fills a `declared` column with
    the same values (the lake's physical types: lake/physical.py)."""
    sized = _sized(declared)
    kind = sized[0] if sized else _spelled(declared)
    if pa.types.is_integer(stored):
        return declared == "NUMBER(38,0)"
    if pa.types.is_decimal128(stored):
        return declared == f"NUMBER({stored.precision},{stored.scale})"
    if pa.types.is_timestamp(stored):
        zone = "TIMESTAMP_TZ" if stored.tz else "TIMESTAMP_NTZ"
        return sized is not None and sized[:2] == (zone, _UNIT_DIGITS[stored.unit])
    if pa.types.is_time32(stored) or pa.types.is_time64(stored):
        return (
            stored.unit != "ns"
            and sized is not None
            and sized[:2]
            == (
                "TIME",
                _UNIT_DIGITS[stored.unit],
            )
        )
    simple = {
        "BOOLEAN": pa.types.is_boolean,
        "FLOAT": pa.types.is_floating,
        "VARCHAR": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
        "BINARY": lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t),
        "DATE": pa.types.is_date32,
    }
    check = simple.get(kind)
    return bool(check and check(stored))


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _write_parquet(
    folder: Path, batches: Iterator[pa.RecordBatch], columns: list[StagedColumn]
) -> tuple[list[Path], int]:
    """The batches as Parquet files of about STAGED_FILE_BYTES each; (files, rows)."""
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(c.name, c.wire) for c in columns])
    files: list[Path] = []
    writer: pq.ParquetWriter | None = None
    rows = written = 0
    try:
        for batch in batches:
            if not batch.num_rows:
                continue
            if writer is None:
                files.append(folder / f"part-{len(files):05d}.parquet")
                writer = pq.ParquetWriter(files[-1], schema, compression="zstd")
            writer.write_batch(writable(batch, columns))
            rows += batch.num_rows
            written += batch.nbytes
            if written >= STAGED_FILE_BYTES:
                writer.close()
                writer, written = None, 0
    finally:
        if writer is not None:
            writer.close()
    return files, rows
