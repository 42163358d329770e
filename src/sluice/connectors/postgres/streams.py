"""Batches from several COPY streams of one snapshot, merged as they come (threads pump
each into a bounded hand-off, so memory stays bounded and the first error stops all)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from contextlib import closing, suppress
from threading import Event
from typing import TYPE_CHECKING, cast

import pyarrow as pa

from sluice.connectors.postgres.reading import conform

_BATCH_BYTES_OPTION = "adbc.postgresql.batch_size_hint_bytes"

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Cursor


def stream(
    cursor: Cursor, sql: str, schema: pa.Schema, batch_rows: int, batch_bytes: int
) -> Iterator[pa.RecordBatch]:
    """One COPY query's rows, in the planned schema, in slices of at most `batch_rows`."""
    cursor.adbc_statement.set_options(**{_BATCH_BYTES_OPTION: str(batch_bytes)})
    cursor.execute(sql)
    reader = cursor.fetch_record_batch()
    try:
        for raw in reader:
            batch = conform(raw, schema)
            for offset in range(0, batch.num_rows, batch_rows):
                yield batch.slice(offset, batch_rows)
    finally:
        reader.close()


_DONE = object()


def merged(streams: list[Iterator[pa.RecordBatch]], depth: int) -> Iterator[pa.RecordBatch]:
    """The batches of several streams, each drained on its own thread, in arrival order.

    The driver and pyarrow release the GIL while they decode, so the streams (and whatever
    consumes them) use all cores. The queue is bounded: memory holds a few batches whatever
    the table's size. A stream's error is raised here, in the consumer; when the consumer
    stops early, the threads stop at their next batch and close their streams.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    threads = [
        threading.Thread(target=_pump, args=(stream, handoff, stop), daemon=True)
        for stream in streams
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            item = handoff.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield cast(pa.RecordBatch, item)
    finally:
        stop.set()
        for thread in threads:
            while thread.is_alive():  # a producer may be waiting for room in the queue
                with suppress(queue.Empty):
                    handoff.get_nowait()
                thread.join(0.05)


def _pump(stream: Iterator[pa.RecordBatch], handoff: queue.Queue[object], stop: Event) -> None:
    with closing(cast(Generator[pa.RecordBatch, None, None], stream)) as batches:
        try:
            for batch in batches:
                if not _offer(handoff, batch, stop):
                    return
        # Not swallowed: handed over to the consumer's thread, which raises it.
        except BaseException as exc:  # noqa: BLE001
            _offer(handoff, exc, stop)
            return
    _offer(handoff, _DONE, stop)


def _offer(handoff: queue.Queue[object], item: object, stop: Event) -> bool:
    """Put `item`, waiting for room; False once the consumer has stopped."""
    while not stop.is_set():
        with suppress(queue.Full):
            handoff.put(item, timeout=0.1)
            return True
    return False
