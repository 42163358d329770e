"""MongoDB source: a collection (`source_tablename`, read whole, dots and all, in the creds'
database) becomes a table whose columns are its documents' top-level fields.

Columns are inferred (shape.py) from `sample_size` random documents, as many of the newest by
_id, and what the lake's earlier batches recorded (so a field the sample missed is not taken
for dropped); nested documents and arrays are structs and lists, or JSON text where the table
says `--nested json`. A read runs in one snapshot session (`snapshot=True`, MongoDB 5.0+ on a
replica set or sharded cluster), with its count taken in the same snapshot; a deployment that
offers no snapshot reads (a standalone server) is read without one, said in the run's warnings.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from sluice.connectors.base import ReadRequest, SourceRead, TableInfo
from sluice.connectors.discovery import CatalogColumn, CatalogTable, Kind
from sluice.connectors.missing import missing_table
from sluice.connectors.mongo.config import MongoCreds
from sluice.connectors.mongo.connection import connect, translate
from sluice.connectors.mongo.convert import Convert, Misfit, batch_of, converters
from sluice.connectors.mongo.infer import Shape, infer
from sluice.connectors.mongo.query import key_filter
from sluice.core.errors import TerminalError
from sluice.core.models import TableRef

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.client_session import ClientSession
    from pymongo.collection import Collection

# Documents asked of the server per round trip (its cursor batches are at most 16 MiB anyway).
CURSOR_BATCH = 10_000
# Documents held as Python dicts before they become one Arrow batch: a dict costs far more
# than its Arrow row, so batches stay at this however many rows a batch may hold.
MAX_BATCH_DOCUMENTS = 20_000


class MongoSource:
    type_name: ClassVar[str] = "mongo"

    def __init__(self, creds: MongoCreds) -> None:
        self.creds = creds
        self._client: MongoClient[dict[str, Any]] | None = None
        self._nested_as_json = False
        self._recorded: pa.Schema | None = None
        self._shapes: dict[str, Shape] = {}

    def shape(self, *, nested_as_json: bool, recorded: pa.Schema | None) -> None:
        """How the next check and read infer columns: nested values as JSON text or not, and
        the columns the lake recorded before (None: none, or a reload reading afresh)."""
        self._nested_as_json = nested_as_json
        self._recorded = recorded
        self._shapes.clear()

    def _db_client(self) -> MongoClient[dict[str, Any]]:
        if self._client is None:
            self._client = connect(self.creds)
        return self._client

    def _collection(self, table: TableRef) -> Collection[dict[str, Any]]:
        from bson.codec_options import CodecOptions, DatetimeConversion

        # Dates as milliseconds: BSON dates outside years 1..9999 decode too, exactly.
        options: CodecOptions[dict[str, Any]] = CodecOptions(
            datetime_conversion=DatetimeConversion.DATETIME_MS
        )
        database = self._db_client().get_database(self.creds.database, codec_options=options)
        return database.get_collection(str(table))

    def ping(self) -> str:
        with translate(self.creds):
            info = self._db_client().server_info()
            names = self._db_client()[self.creds.database].list_collection_names()
        return (
            f"MongoDB {info.get('version', '?')} at {self.creds.location()} "
            f"({len(names)} collections)"
        )

    def _require(self, table: TableRef) -> None:
        names = self._db_client()[self.creds.database].list_collection_names()
        if str(table) not in names:
            raise missing_table(
                f"collection {str(table)!r} does not exist in MongoDB database "
                f"{self.creds.location()}",
                str(table),
                sorted(names),
            )

    def _shape_of(self, table: TableRef) -> Shape:
        name = str(table)
        if name not in self._shapes:
            with translate(self.creds):
                self._require(table)
                self._shapes[name] = infer(
                    self._collection(table),
                    self.creds.sample_size,
                    self._nested_as_json,
                    self._recorded,
                )
        return self._shapes[name]

    def check(self, table: TableRef, *, count_rows: bool = True) -> TableInfo:
        shape = self._shape_of(table)
        count = None
        if count_rows:
            with translate(self.creds):
                count = self._collection(table).count_documents({})
        return TableInfo(table=table, schema=shape.schema, row_count=count, primary_key=("_id",))

    def discover(self, schema: str | None) -> list[CatalogTable]:
        """The database's collections (views too): key _id, estimated counts, and the fields
        of single-field indexes, which an incremental read could range over (typed by one
        document: a date or an integer). `schema` is ignored: the creds name the database."""
        found = []
        with translate(self.creds):
            database = self._db_client()[self.creds.database]
            for spec in database.list_collections():
                name = str(spec["name"])
                if name.startswith("system."):
                    continue
                collection = database[name]
                is_view = spec.get("type") == "view"
                estimate = None if is_view else collection.estimated_document_count()
                indexed = [] if is_view else [
                    str(keys[0]) for index in collection.list_indexes()
                    if len(keys := list(index["key"])) == 1 and keys[0] != "_id"
                ]  # fmt: skip
                one = collection.find_one({}, {name: 1 for name in indexed}) or {}
                columns = [CatalogColumn("_id", "other", indexed=True)]
                columns += [CatalogColumn(n, _range_kind(one.get(n)), True) for n in indexed]
                found.append(CatalogTable(TableRef(name), estimate, ("_id",), tuple(columns)))
        return found

    def read(self, request: ReadRequest) -> SourceRead:
        warnings: list[str] = []
        return SourceRead(self._read(request, warnings), warnings)

    def _read(
        self, request: ReadRequest, warnings: list[str]
    ) -> Generator[pa.RecordBatch, None, int | None]:
        shape = self._shape_of(request.table)
        convert = converters(shape.kinds, self._nested_as_json)
        collection = self._collection(request.table)
        where = key_filter(request, shape)
        with self._snapshot(collection, warnings) as session, translate(self.creds):
            counted = (
                collection.count_documents(where, session=session) if request.count_rows else None
            )
            cursor = collection.find(where, session=session, batch_size=CURSOR_BATCH)
            size = min(request.batch_rows, MAX_BATCH_DOCUMENTS)
            try:
                documents: list[dict[str, Any]] = []
                for document in cursor:
                    documents.append(document)
                    if len(documents) >= size:
                        yield self._batch(documents, convert, shape, request.table)
                        documents = []
                if documents:
                    yield self._batch(documents, convert, shape, request.table)
            finally:
                cursor.close()
        return counted

    def _batch(
        self,
        documents: list[dict[str, Any]],
        convert: dict[str, Convert],
        shape: Shape,
        table: TableRef,
    ) -> pa.RecordBatch:
        try:
            return batch_of(documents, convert, shape.schema)
        except Misfit as misfit:
            raise TerminalError(
                f"collection {str(table)!r}, field {misfit.path!r} of the document with _id "
                f"{misfit.document_id!r}: {misfit.problem}; the columns were inferred from "
                f"{shape.sampled:,} sampled documents: sample every document with "
                '"sample_size": 0 in the source\'s creds (`sluice source edit`), then run '
                "again; nothing was published"
            ) from None

    @contextmanager
    def _snapshot(
        self, collection: Collection[dict[str, Any]], warnings: list[str]
    ) -> Iterator[ClientSession | None]:
        """A snapshot session, or None (and a warning) where the deployment has none."""
        with translate(self.creds):
            session = self._db_client().start_session(snapshot=True)
            try:
                offered = _takes_snapshot(collection, session)
            except BaseException:
                session.end_session()
                raise
        try:
            if not offered:
                warnings.append(
                    f"MongoDB at {self.creds.location()} offers no snapshot reads (a "
                    "standalone server): the read is not one snapshot, so documents written "
                    "while it ran may be missed or read in an older version until the next run "
                    "(a full read's count check catches only changes in the number of documents)"
                )
            yield session if offered else None
        finally:
            session.end_session()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _takes_snapshot(collection: Collection[dict[str, Any]], session: ClientSession) -> bool:
    """Whether reads in `session` see one snapshot; its first read (this one) takes it."""
    from pymongo.errors import OperationFailure

    try:
        collection.find_one({}, {"_id": 1}, session=session)
    except OperationFailure as refused:
        # A standalone server: "snapshot reads require a replica set" (code 123 or 72).
        if "snapshot" in str(refused).lower() or refused.code in (72, 123):
            return False
        raise
    return True


def _range_kind(value: Any) -> Kind:
    """What a range over a field holding `value` ranges over."""
    from bson import DatetimeMS

    if isinstance(value, DatetimeMS | datetime):
        return "timestamp"
    if isinstance(value, int) and not isinstance(value, bool):
        return "integer"
    return "other"
