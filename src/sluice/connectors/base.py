"""The connector contract: small and Arrow-shaped. A connector states only what differs."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from sluice.connectors.dialect import Dialect
from sluice.connectors.discovery import CatalogTable
from sluice.core.bounds import Bound
from sluice.core.models import LoadMode, TableRef


class Creds(BaseModel):
    """Base of every connector's credentials model: unknown fields are an error.

    Secret fields are typed `SecretStr`, so redaction follows the type, not the field name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Fields naming a local file: stored absolute (service/paths.py), since a relative one
    # would be read against the directory of whichever process runs.
    path_fields: ClassVar[tuple[str, ...]] = ()

    def secret_values(self) -> list[str]:
        from pydantic import SecretStr

        return [
            value.get_secret_value()
            for value in self.__dict__.values()
            if isinstance(value, SecretStr)
        ]


# The fields a server's creds give instead of one 'url'.
SERVER_FIELDS = ("host", "port", "user", "password", "database")


def url_style(creds: Creds, options: str) -> bool:
    """Whether `creds` (a server's) give one 'url' rather than the fields; refuses both, and
    fields without host, user or database. `options` names the optional fields, for the
    message. Messages never quote a value: the URL holds the password."""
    given = [name for name in SERVER_FIELDS if name in creds.model_fields_set]
    if getattr(creds, "url", None) is not None:
        if given:
            raise ValueError(
                "give either 'url' or host/port/user/password/database, not both "
                f"(found 'url' and {', '.join(repr(n) for n in given)})"
            )
        return True
    missing = [name for name in ("host", "user", "database") if not getattr(creds, name)]
    if missing:
        raise ValueError(
            f"give either 'url', or 'host', 'user' and 'database' (with optional {options}); "
            f"missing: {', '.join(repr(n) for n in missing)}"
        )
    return False


@dataclass(frozen=True)
class TableInfo:
    """What a check of a source or sink table found."""

    table: TableRef
    schema: pa.Schema
    row_count: int | None
    primary_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReadRequest:
    """What to read. `lower_bound` is inclusive and may be applied loosely by the source.

    The engine filters exactly afterwards; a source only has to return a superset of the
    rows with `incremental_key >= lower_bound`.
    """

    table: TableRef
    incremental_key: str | None = None
    lower_bound: Any = None
    # Where the key is NULL this column stands in: the predicate is COALESCE(key, fallback).
    fallback_key: str | None = None
    batch_rows: int = 100_000
    # Count the table's rows inside the read's own snapshot (full loads: verify_lake compares
    # the lake batch with it). Costs one more scan, so incremental reads do not ask.
    count_rows: bool = False
    # The table's zero-date policy is `null`: a value no date type holds (MySQL's
    # '0000-00-00') is read as NULL, and the read's warnings say how many, per column.
    zero_dates_to_null: bool = False


@dataclass(frozen=True)
class LoadRequest:
    """One load of lake batches into a sink table, applied in one transaction.

    `batch_ids` are the lake batch sequences in the stream; the sink records them in its
    state table in the same transaction as the data, so a batch is never applied twice.
    `dedupe` keeps only the last row per primary key (stream order decides).
    """

    table: TableRef
    mode: LoadMode
    schema: pa.Schema
    lake_table: str
    batch_ids: tuple[int, ...]
    run_id: int
    primary_key: tuple[str, ...] = ()
    dedupe: bool = False
    # Each batch's unique id (Manifest.batch_uid), in the order of batch_ids; recorded with it.
    batch_uids: tuple[str | None, ...] = ()
    # Called inside the load's transaction just before it commits; raising rolls it back (the
    # engine's fence: a load whose run was reaped meanwhile never commits).
    before_commit: Callable[[], None] | None = None
    # The lake's Parquet files (local paths, in stream order) whose rows are exactly the
    # batches, and their schema as stored (lake/physical.py), when they are: a sink that loads
    # files itself may load these instead and never read the batches. Empty otherwise.
    files: tuple[str, ...] = ()
    files_schema: pa.Schema | None = None
    # The table's layout where the sink has one (BigQuery): partitioning and clustering, as
    # `table add --partition-by/--cluster-by` gave them; applied when the table is created.
    partition_by: str | None = None
    cluster_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnProfile:
    values: dict[str, int]  # non-NULL values per column
    bounds: dict[str, tuple[Bound, Bound]]  # (min, max) in sluice.core.bounds' form


@dataclass(frozen=True)
class LoadResult:
    rows_loaded: int
    columns_added: tuple[str, ...] = field(default_factory=tuple)


class SourceRead:
    """The batches of one read, and the row count the read took in its own snapshot.

    A source's read is a generator that returns its count (`return counted`), so the count
    belongs to the read that made it and is known exactly when the last batch was taken.
    """

    def __init__(
        self,
        batches: Generator[pa.RecordBatch, None, int | None],
        warnings: list[str] | None = None,
    ) -> None:
        self._batches = batches
        self.counted: int | None = None
        # What the read changed on the table's own settings' say-so (complete once read).
        self.warnings: list[str] = warnings if warnings is not None else []

    def __iter__(self) -> SourceRead:
        return self

    def __next__(self) -> pa.RecordBatch:
        try:
            return next(self._batches)
        except StopIteration as finished:
            self.counted = finished.value
            raise StopIteration from None

    def close(self) -> None:
        """Stop early: the source's transaction and connections end now."""
        self._batches.close()


class Source(Protocol):
    type_name: ClassVar[str]

    def ping(self) -> str:
        """Connect and describe what answered; raise TerminalError/TransientError if nothing."""
        ...

    def check(self, table: TableRef, *, count_rows: bool = True) -> TableInfo:
        """Columns and primary key; the row count too unless `count_rows` is False."""
        ...

    def read(self, request: ReadRequest) -> SourceRead:
        """The rows, as batches; once they are all read, `counted` holds what the table
        held in the read's own snapshot when the request asked `count_rows`."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Partitioning:
    """A full read split into ranges that other connections (in other processes, on other
    machines) read in the same snapshot; each spec is JSON, handed to `read_partition`."""

    specs: list[dict[str, Any]]
    counted: int | None  # rows the snapshot holds, when the request asked `count_rows`
    # Called once every range has begun reading (then the source may let writers go on).
    started: Callable[[], None] | None = None


class PartitionedSource(Source, Protocol):
    """A source that can split one consistent full read into ranges read in parallel."""

    def partitions(
        self, request: ReadRequest, wanted: int | None
    ) -> AbstractContextManager[Partitioning | None]:
        """Open the read's snapshot and split the table into `wanted` ranges (None: as many
        as its size warrants). The snapshot stays readable by `read_partition` until the
        context ends. None when this table cannot be split (then `read` reads it)."""
        ...

    def read_partition(
        self, request: ReadRequest, spec: dict[str, Any]
    ) -> Iterator[pa.RecordBatch]:
        """One range's rows, in the snapshot its spec names, over a connection of its own."""
        ...


# A split read whose count is left to the table's size: one range per this many bytes, at
# most MAX_PARTITIONS (more ranges than workers only queue up).
PARTITION_BYTES = 1 << 30
MAX_PARTITIONS = 16


def partition_count(wanted: int | None, size_bytes: int) -> int:
    """The ranges of a split read: as many as asked, else by the table's size."""
    return wanted or min(MAX_PARTITIONS, size_bytes // PARTITION_BYTES)


def partitioned(source: Source) -> PartitionedSource | None:
    """`source` as a partitioned source, when its connector can split reads."""
    if callable(getattr(source, "partitions", None)) and callable(
        getattr(source, "read_partition", None)
    ):
        return source  # type: ignore[return-value]
    return None


class InferringSource(Source, Protocol):
    """A source of documents, which declare no columns: `check` infers them from the data."""

    def shape(self, *, nested_as_json: bool, recorded: pa.Schema | None) -> None:
        """How the next `check` and `read` infer the columns: nested values as JSON text or
        as structs and lists, and the columns the lake's earlier batches recorded (kept even
        where the documents sampled now lack them; None: none, or a reload reading afresh)."""
        ...


def inferring(source: Source) -> InferringSource | None:
    """`source` as an inferring source, when its connector infers columns."""
    if callable(getattr(source, "shape", None)):
        return source  # type: ignore[return-value]
    return None


class DiscoveringSource(Source, Protocol):
    """A source that can list its tables for `sluice discover`."""

    def discover(self, schema: str | None) -> list[CatalogTable]:
        """The tables (and views) a read could name, in `schema` or the default one(s):
        row estimates, primary keys, and the columns an incremental key could be."""
        ...


def discovering(source: Source) -> DiscoveringSource | None:
    """`source` as one that lists its tables, when its connector can."""
    return source if callable(getattr(source, "discover", None)) else None  # type: ignore[return-value]


class Sink(Protocol):
    type_name: ClassVar[str]
    dialect: ClassVar[Dialect]

    def ping(self) -> str: ...

    def check(self, table: TableRef, *, count_rows: bool = True) -> TableInfo | None:
        """The live table (its row count unless `count_rows` is False: a scan on some
        systems), or None when it does not exist yet."""
        ...

    def held_batches(self, table: TableRef, lake_table: str) -> set[int]:
        """Lake batch sequences whose rows the live table holds (from the sink's state table)."""
        ...

    def held_identities(self, table: TableRef, lake_table: str) -> dict[int, str | None]:
        """The same batches, each with the unique id recorded with it (None before ids)."""
        ...

    def column_profile(
        self, table: TableRef, columns: list[str], bounded: dict[str, pa.DataType]
    ) -> ColumnProfile:
        """Non-NULL values per column of the live table, and (min, max) of the `bounded`
        columns (given with their lake types) where this sink holds them exactly; verify_sink
        compares both with the lake's."""
        ...

    def load(self, request: LoadRequest, batches: Iterable[pa.RecordBatch]) -> LoadResult: ...

    def close(self) -> None: ...
