"""A full hop 1 read split into ranges read in parallel, committed together as one batch.

The extract opens the source's snapshot (`PartitionedSource.partitions`), records one row per
range in the config database and hands the ranges to its fan-out: worker tasks on the stage's
own queue (executors/celery.py) or threads of this process. Whoever claims a range first reads
it, in the same snapshot, into its own Parquet parts in the batch's directory. The extract
reads unclaimed ranges itself, so the read finishes even when no worker is free; it waits for
the claimed ones, gives up on a range whose reader stops beating (its worker died: the stage
fails and is retried), and adopts every range's parts into the one batch it commits. A range's
late reader (its extract gone) is refused at its next beat and removes its own parts; a batch
is only what its manifest lists, so nothing it leaves behind is ever read.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from sluice.connectors.base import Partitioning, ReadRequest, partitioned
from sluice.core.errors import (
    FencedOffError,
    SluiceError,
    TerminalError,
    TransientError,
    error_class,
)
from sluice.core.faults import crash_point
from sluice.core.ids import new_uuid7
from sluice.core.processes import name_gone, process_name
from sluice.lake.writer import BatchWriter

if TYPE_CHECKING:
    from sluice.stages.context import StageContext

# A reader records its rows at most this often; the extract takes a range whose reader has
# not been heard of for LOST_AFTER_S for lost (its worker killed) and fails the stage.
BEAT_EVERY_S = 1.0
LOST_AFTER_S = 20.0
WAIT_S = 0.05


class FanOut(Protocol):
    """Where the ranges other than the ones the extract reads itself may be read."""

    def dispatch(self, ctx: StageContext, fan_id: str, numbers: list[int]) -> None: ...

    def close(self) -> None: ...


class ThreadFanOut:
    """Ranges read by threads of this process (the local executor's fan-out)."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []

    def dispatch(self, ctx: StageContext, fan_id: str, numbers: list[int]) -> None:
        for number in numbers:
            thread = threading.Thread(
                target=read_range,
                args=(ctx, fan_id, number),
                name=f"sluice-range-{number}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        for thread in self._threads:
            thread.join()  # each stops at its next beat once its range is given up


def may_split(ctx: StageContext, incremental: bool, key: str | None, enforced: bool) -> int | None:
    """The ranges wanted for this read (None: as many as the table's size warrants), or 0
    when the read is not split.

    Only a full read without an incremental key is split: an incremental read is small, and a
    key's look-back window is built from the rows in the order one reader sees them. A
    configured primary key that the source does not enforce is checked over one read.
    """
    if incremental or key is not None or (ctx.table.primary_key and not enforced):
        return 0
    wanted = ctx.table.partitions
    if wanted == 1 or (wanted is None and ctx.fan_out is None):
        return 0  # the local executor's own read already overlaps the server and the decoding
    return wanted


def read_partitioned(
    ctx: StageContext,
    source: Any,
    request: ReadRequest,
    wanted: int | None,
    writer: BatchWriter,
) -> tuple[bool, int | None]:
    """(whether the read was split, the rows its snapshot counted); the ranges' parts adopted
    into `writer`. Not split (False): the caller reads the table as one."""
    split = partitioned(source)
    if split is None:
        return False, None
    with split.partitions(request, wanted) as partitioning:
        if partitioning is None:
            return False, None
        _fan(ctx, partitioning, request, writer)
        return True, partitioning.counted


def _fan(
    ctx: StageContext, partitioning: Partitioning, request: ReadRequest, writer: BatchWriter
) -> None:
    fan_id = new_uuid7()
    schema = base64.b64encode(writer.schema.serialize().to_pybytes()).decode()
    ctx.repo.create_partitions(
        fan_id,
        ctx.run.id,
        ctx.stage.stage_order,
        [
            {
                "source": spec,
                "dir": writer.dir,
                "schema": schema,
                "batch_rows": request.batch_rows,
                "zero_dates_to_null": request.zero_dates_to_null,
            }
            for spec in partitioning.specs
        ],
    )
    fan_out: FanOut = ctx.fan_out or ThreadFanOut()
    begun = _Begun(partitioning.started)
    try:
        fan_out.dispatch(ctx, fan_id, list(range(1, len(partitioning.specs))))
        for record in _wait(ctx, fan_id, len(partitioning.specs), begun):
            assert record.result is not None
            writer.adopt(record.result)
    except BaseException:
        ctx.repo.abandon_partitions(fan_id)
        raise
    finally:
        fan_out.close()
        ctx.repo.drop_partitions(fan_id)


class _Begun:
    """Tells the source, once, that every range has begun reading (it may release what held
    the ranges' snapshots equal: MySQL's table lock)."""

    def __init__(self, started: Callable[[], None] | None) -> None:
        self._started = started

    def look(self, records: list[Any]) -> None:
        if self._started is None:
            return
        if all(
            r.status in ("done", "failed") or (r.status == "running" and r.rows) for r in records
        ):
            started, self._started = self._started, None
            started()


def _wait(ctx: StageContext, fan_id: str, count: int, begun: _Begun) -> list[Any]:
    """Every range read: unclaimed ones here, claimed ones by whoever claimed them."""
    kept = time.monotonic()
    while True:
        records = ctx.repo.partitions(fan_id)
        if len(records) != count:
            raise FencedOffError(
                "a later attempt of this extract took its ranges over: nothing was committed"
            )
        begun.look(records)
        ctx.progress(sum(record.rows for record in records))
        if time.monotonic() - kept >= BEAT_EVERY_S:
            kept = time.monotonic()
            ctx.repo.keep_pending(fan_id)
        for record in records:
            if record.status == "failed":
                name, _, message = (record.error or "").partition("\t")
                raise error_class(name, TerminalError)(
                    f"range {record.partition_no + 1} of {len(records)} of the read: {message}"
                )
        pending = [record for record in records if record.status == "pending"]
        if pending:
            read_range(ctx, fan_id, pending[0].partition_no, extract_reads=begun)
            continue
        running = [record for record in records if record.status == "running"]
        if not running:
            return records
        for record in running:
            if record.claimed_by and name_gone(record.claimed_by):
                raise TransientError(
                    f"range {record.partition_no + 1} of {len(records)} of the read: its reader "
                    f"{record.claimed_by} died (its process is gone): nothing was committed; "
                    "the extract is tried again"
                )
            if record.beat_age_s is not None and record.beat_age_s > LOST_AFTER_S:
                raise TransientError(
                    f"range {record.partition_no + 1} of {len(records)} of the read, claimed by "
                    f"{record.claimed_by}, has not been heard of for {record.beat_age_s:.0f} s "
                    "(its worker died?): nothing was committed; the extract is tried again"
                )
        time.sleep(WAIT_S)


def read_range(
    ctx: StageContext, fan_id: str, number: int, *, extract_reads: _Begun | None = None
) -> int | None:
    """Claim range `number` and read it into its own parts; the outcome is recorded in its
    row (never raised: the extract raises a range's failure). Anyone may call this: the range
    is read once, by the first to claim it. `extract_reads`: the extract itself reads it (with
    what waits for every range to begin), keeping its unclaimed ranges fresh meanwhile.
    Answers the rows read (None: another process had claimed it)."""
    claimer = process_name(threading.get_ident())
    record = ctx.repo.claim_partition(fan_id, number, claimer, timedelta(seconds=LOST_AFTER_S))
    if record is None:
        return None
    spec = record.spec
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(spec["schema"])))
    request = ReadRequest(
        table=ctx.source_ref,
        batch_rows=int(spec["batch_rows"]),
        zero_dates_to_null=bool(spec["zero_dates_to_null"]),
    )
    writer = BatchWriter(
        ctx.lake_table,
        ctx.run.id,
        schema,
        # The attempt's own names: a late reader of an earlier attempt of this run, writing
        # into the same directory, never overwrites this attempt's parts.
        partition=(str(spec["dir"]), f"r{ctx.run.id}-{fan_id[-6:]}-p{number:03d}-"),
    )
    try:
        written = _read_into(ctx, fan_id, number, claimer, request, spec, writer, extract_reads)
    except SluiceError as exc:
        writer.abort()
        ctx.repo.end_partition(fan_id, number, claimer, error=f"{type(exc).__name__}\t{exc}")
        return 0
    except BaseException as exc:
        writer.abort()
        ctx.repo.end_partition(fan_id, number, claimer, error=f"TerminalError\t{exc!r}")
        raise
    if not ctx.repo.end_partition(fan_id, number, claimer, result=written):
        writer.abort()  # given up on meanwhile: its parts would be nobody's
        return 0
    return int(written["rows"])


def _read_into(
    ctx: StageContext,
    fan_id: str,
    number: int,
    claimer: str,
    request: ReadRequest,
    spec: dict[str, Any],
    writer: BatchWriter,
    extract_reads: _Begun | None,
) -> dict[str, Any]:
    source = ctx.open_source()
    try:
        split = partitioned(source)
        if split is None:
            raise TerminalError(f"the {source.type_name} source cannot read a range of a table")
        beat = time.monotonic() - BEAT_EVERY_S  # the first batch beats: the range has begun
        for batch in split.read_partition(request, spec["source"]):
            writer.write(_project(batch, writer.schema))
            crash_point("extract:between_batches")
            if time.monotonic() - beat >= BEAT_EVERY_S:
                beat = time.monotonic()
                if not ctx.repo.beat_partition(fan_id, number, claimer, writer.seen):
                    raise FencedOffError("its extract gave this range up: nothing it read is kept")
                if extract_reads is not None:
                    ctx.repo.keep_pending(fan_id)
                    extract_reads.look(ctx.repo.partitions(fan_id))
        return writer.finish_parts()
    finally:
        source.close()


def _project(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch's columns the batch keeps (a contract may discard some), in its order."""
    if batch.schema.names == schema.names:
        return batch
    return pa.RecordBatch.from_arrays([batch.column(f.name) for f in schema], names=schema.names)
