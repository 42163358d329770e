"""Binary COPY of one stream of batches into a table, over more than one connection."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

from sluice.connectors.postgres.connection import close_quietly, connect, translate
from sluice.connectors.postgres.ranges import refuse_out_of_range
from sluice.connectors.postgres.writing import SinkColumn, to_wire
from sluice.core.errors import StageError, TerminalError
from sluice.core.models import TableRef

log = logging.getLogger("sluice.postgres")

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection, Cursor


if TYPE_CHECKING:
    from sluice.connectors.postgres.sink import PostgresSink


class ParallelCopy:
    """One stream of batches COPYed into `table`, over more than one connection when large.

    The driver encodes a batch, then waits while the server parses it, so one COPY keeps
    only one side busy at a time. Once `split_rows` rows have gone and more follow, helper
    connections join, each taking the next batch of the same stream: encoding and parsing
    then overlap. A helper that cannot connect is skipped. The first failure stops every
    stream; the caller drops the half-filled table.
    """

    def __init__(
        self,
        sink: PostgresSink,
        table: TableRef,
        columns: list[SinkColumn],
        batches: Iterator[pa.RecordBatch],
    ) -> None:
        self.creds = sink.creds
        self.table = table
        self.columns = columns
        self.wire_schema = pa.schema([pa.field(c.name, c.wire) for c in columns])
        self.target, self.key = sink._loading or (table, ())
        self.helpers_wanted = sink.copy_streams - 1
        self.split_rows = sink.split_rows
        self.piece_bytes = sink.copy_batch_bytes
        self.rows = 0
        self._batches = batches
        self._lock = threading.Lock()
        self._ended = False
        self._grown = False
        self._failure: BaseException | None = None  # raised as is: the driver keeps only text
        self._errors: list[BaseException] = []
        self._helpers: list[tuple[Connection, Cursor, threading.Thread]] = []

    def run(self, cursor: Cursor) -> int:
        """COPY everything, starting on `cursor`; the rows loaded."""
        import adbc_driver_manager

        try:
            self._ingest(cursor)
        except adbc_driver_manager.Error as exc:
            self._errors.insert(0, exc)
        finally:
            self._ended = True
            for connection, helper, thread in self._helpers:
                thread.join()
                close_quietly(connection, helper)
        if self._failure is not None:
            raise self._failure from (self._errors[0] if self._errors else None)
        if self._errors:
            error = translate(self._errors[0], self.creds)
            if _SAYS_NOTHING.search(str(error)):
                error = TerminalError(
                    f"{error} (the driver gave no reason: its binary encoder refused a value "
                    f"of sink table {self.target}, and sluice's checks of dates, times and "
                    "timestamps passed; nothing was loaded. Find the value by reading the lake "
                    "batch with DuckDB (see `sluice lake ls`), or load the table into DuckDB)"
                )
            raise error from self._errors[0]
        return self.rows

    def _ingest(self, cursor: Cursor) -> None:
        reader = pa.RecordBatchReader.from_batches(self.wire_schema, self._take())
        cursor.adbc_ingest(self.table.name, reader, mode="append", db_schema_name=self.table.schema)

    def _take(self) -> Iterator[pa.RecordBatch]:
        """Batches for one COPY: the next of the shared stream each time, until it ends."""
        while True:
            try:
                with self._lock:
                    batch = None if self._ended else next(self._batches, None)
                    if batch is None:
                        self._ended = True
                        return
                    self.rows += batch.num_rows
                    grow = not self._grown and self.rows >= self.split_rows
                    self._grown = self._grown or grow
                if grow:
                    self._add_helpers()
                wire = to_wire(batch, self.columns, self.wire_schema)
                refuse_out_of_range(wire, self.target, self.key)
            except BaseException as exc:
                self._failure = self._failure or exc
                self._ended = True
                raise
            yield from _slices(wire, self.piece_bytes)

    def _add_helpers(self) -> None:
        for _ in range(self.helpers_wanted):
            try:
                connection = connect(self.creds)
            except StageError as exc:
                log.warning("loading on fewer connections: %s", exc)
                return
            cursor = connection.cursor()
            thread = threading.Thread(target=self._helper, args=(cursor,), daemon=True)
            self._helpers.append((connection, cursor, thread))
            thread.start()

    def _helper(self, cursor: Cursor) -> None:
        # Not swallowed: run() raises it, on the caller's thread.
        try:
            self._ingest(cursor)
        except BaseException as exc:  # noqa: BLE001
            self._errors.append(exc)
            self._ended = True


# The driver's whole message when its COPY encoder fails: no column, no value.
_SAYS_NOTHING = re.compile(r"writing COPY data:\s*$")


def _slices(batch: pa.RecordBatch, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """`batch` in pieces of about `max_bytes`: the driver buffers the encoded form of what it
    is handed, so smaller pieces keep a COPY's memory small (4 MiB pieces load as fast)."""
    rows = max(1, batch.num_rows * max_bytes // max(batch.nbytes, 1))
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)
