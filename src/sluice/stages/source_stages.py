"""Hop 1 (source_to_dl): check_source, extract, verify_lake."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from sluice.connectors.base import ReadRequest, Source, inferring
from sluice.core.clock import utcnow
from sluice.core.errors import ConfigError, TerminalError
from sluice.core.faults import crash_point
from sluice.core.ids import new_uuid7
from sluice.core.models import Hop, LoadType
from sluice.core.suggest import missing_columns
from sluice.core.watermark import format_value, lookback_floor, parse_value
from sluice.lake.manifest import BatchRef, Manifest, current_batches
from sluice.lake.physical import physical_schema
from sluice.lake.reader import LakeTable
from sluice.lake.writer import BatchWriter
from sluice.stages.context import StageContext, StageResult
from sluice.stages.contract import ContractOutcome, apply_contract
from sluice.stages.future_keys import FutureGuard, is_time
from sluice.stages.incremental import HeldRows, IncrementalFilter, KeyTracker
from sluice.stages.key_uniqueness import KeyUniqueness
from sluice.stages.partitioned_extract import may_split, read_partitioned
from sluice.stages.registry import StageType
from sluice.stages.reload import reload_hint


class CheckSource(StageType):
    """The source answers, the table exists, the key and primary key columns are there."""

    name: ClassVar[str] = "check_source"
    hop: ClassVar[Hop] = Hop.SOURCE_TO_DL

    def run(self, ctx: StageContext) -> StageResult:
        source = ctx.open_source()
        try:
            _shape(ctx, source, None)
            # No count: a full scan on every run would cost more than the check is worth.
            info = source.check(ctx.source_ref, count_rows=False)
        finally:
            source.close()
        hop = ctx.table.source_to_dl
        wanted = [(c, "primary key column") for c in ctx.table.primary_key]
        if hop.load_type is LoadType.INCREMENTAL and hop.incremental_key:
            wanted.append((hop.incremental_key, "incremental key"))
        problem = missing_columns(wanted, list(info.schema.names), str(ctx.source_ref))
        if problem is not None:
            raise TerminalError(problem)
        return StageResult(rows=0)


def _shape(ctx: StageContext, source: Source, committed: list[BatchRef] | None) -> None:
    """A source that infers its columns learns the table's nested setting and the columns the
    lake's newest batch recorded (`committed`: the lake's batches, None: not yet listed; a
    reload reads afresh, as if there were none)."""
    documents = inferring(source)
    if documents is not None:
        if committed is None:
            committed = [] if ctx.run.reload else ctx.lake_table.batches()
        recorded = ctx.lake_table.manifest(committed[-1].sequence).schema if committed else None
        documents.shape(nested_as_json=ctx.table.nested == "json", recorded=recorded)


def read_batch_rows() -> int:
    """Rows per batch asked of a source (SLUICE_READ_BATCH_ROWS; memory grows with it)."""
    raw = os.environ.get("SLUICE_READ_BATCH_ROWS", "100000")
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"SLUICE_READ_BATCH_ROWS={raw!r} must be a positive integer")
    return int(raw)


@dataclass(frozen=True)
class _ResumePoint:
    since: Any = None
    floor: Any = None
    held: pa.Table | None = None

    @property
    def held_rows(self) -> HeldRows:
        return HeldRows(self.held)


class Extract(StageType):
    """One consistent read of the source becomes one new lake batch (full or incremental)."""

    name: ClassVar[str] = "extract"
    hop: ClassVar[Hop] = Hop.SOURCE_TO_DL

    def run(self, ctx: StageContext) -> StageResult:
        hop = ctx.table.source_to_dl
        lake_table = ctx.lake_table
        committed = lake_table.batches()
        # A reload reads the whole table afresh, whatever the load type: the lake's older
        # batches neither bound the read nor constrain its schema.
        reload = ctx.run.reload
        incremental = hop.load_type is LoadType.INCREMENTAL and not reload
        # A full load with a key configured still records the key's range, so switching the
        # table to incremental later continues from the snapshot instead of starting over.
        key = hop.incremental_key
        fallback = ctx.table.null_key_fallback
        # Decided before the read: a config database hiccup must not abort a finished read.
        verified_later = _verify_lake_follows(ctx)
        source = ctx.open_source()
        try:
            _shape(ctx, source, committed if not reload else [])
            info = source.check(ctx.source_ref, count_rows=False)
            contract = ContractOutcome(schema=info.schema)
            if committed and not reload:
                contract = apply_contract(
                    ctx.table.source_tablename,
                    ctx.table.schema_contract,
                    lake_table.manifest(committed[-1].sequence).schema,
                    info.schema,
                    _rows_since_full(committed),
                )
            point = _ResumePoint()
            if key is not None:
                for column in (key, fallback):
                    if column and column not in info.schema.names:
                        raise TerminalError(
                            f"column {column!r} (incremental key or its NULL fallback) is not a "
                            f"column of {ctx.source_ref}"
                        )
                if incremental:
                    point = self._resume_point(ctx, committed, key, info.schema.field(key).type)
            writer = BatchWriter(lake_table, ctx.run.id, contract.schema)
            row_filter = (
                IncrementalFilter(key, point.since, point.floor, point.held_rows, fallback)
                if incremental and key
                else None
            )
            tracker = KeyTracker(key, ctx.table.lookback, fallback) if key else None
            guard = _future_guard(ctx, key, info.schema) if incremental else None
            unique = KeyUniqueness(
                ctx.table.source_tablename, ctx.table.primary_key, info.primary_key
            )
            if guard is not None:
                guard.check_watermark(point.since)
            try:
                request = ReadRequest(
                    table=ctx.source_ref,
                    incremental_key=key,
                    lower_bound=point.floor,
                    fallback_key=fallback,
                    batch_rows=read_batch_rows(),
                    count_rows=not incremental,
                    zero_dates_to_null=ctx.table.zero_dates == "null",
                )
                wanted = may_split(ctx, incremental, key, unique.enforced)
                split, split_counted = (
                    read_partitioned(ctx, source, request, wanted, writer)
                    if wanted != 0
                    else (False, None)
                )
                read = None if split else source.read(request)
                for batch in read or ():
                    batch = contract.project(batch)
                    kept = row_filter.apply(batch) if row_filter is not None else batch
                    kept = guard.apply(kept) if guard is not None else kept
                    if tracker is not None:
                        tracker.update(kept)
                    unique.add(kept)
                    writer.write(kept)
                    ctx.progress(writer.seen)
                    crash_point("extract:between_batches")
                if guard is not None:
                    _record_held(ctx, guard)
                warnings = [*contract.warnings, *(read.warnings if read else ())]
                if incremental and writer.seen == 0 and committed:
                    writer.abort()  # nothing new: no empty batch, the watermark stays
                    return StageResult(rows=0, warnings=warnings)
                # A first batch is published even when empty: it carries the columns, so
                # hop 2 makes the (empty) sink table instead of finding no lake table.
                unique.check()
                counted = None if incremental else read.counted if read else split_counted
                if counted is not None and counted != writer.seen:
                    raise TerminalError(
                        f"the source counted {counted} rows in {ctx.source_ref} but its read "
                        f"returned {writer.seen} in the same snapshot; nothing was committed "
                        "to the lake"
                    )
                window = None
                if tracker is not None and key is not None:
                    window = tracker.window(
                        point.since,
                        point.held_rows,
                        info.schema.field(key).type,
                        row_filter.carried if row_filter is not None else None,
                    )
                load_type = LoadType.FULL if reload else hop.load_type
                if not verified_later:
                    ctx.fence()  # the batch becomes visible now: only while the run holds it
                manifest = writer.commit(
                    self._manifest(ctx, load_type, key, point, tracker, counted),
                    window,
                    publish=not verified_later,
                )
            except BaseException:
                writer.abort()
                raise
        finally:
            source.close()
        if not verified_later:
            _advance_watermark(ctx, manifest)
        return StageResult(
            rows=manifest.row_count,
            file_paths=[lake_table.store.display(p) for p in lake_table.part_paths(manifest)],
            warnings=warnings,
        )

    def _resume_point(
        self, ctx: StageContext, committed: list[BatchRef], key: str, key_type: pa.DataType
    ) -> _ResumePoint:
        """Where to read from, and the rows already held in the look-back window.

        The newest batch that tracked this key is the truth: if the config database's
        watermark lags it (a crash between the lake commit and the config update), the lake's
        value is taken and written back; if the user set the watermark elsewhere, theirs wins.
        """
        stored = ctx.table.source_to_dl.last_incremental_value
        latest = next(
            (
                m
                for m in map(ctx.lake_table.manifest, (r.sequence for r in reversed(committed)))
                if m.incremental_key == key and m.watermark_after is not None
            ),
            None,
        )
        lookback = ctx.table.lookback
        if latest is not None and stored in (latest.watermark_before, latest.watermark_after):
            assert latest.watermark_after is not None
            if stored != latest.watermark_after:
                ctx.repo.set_watermark(
                    ctx.table.source_tablename,
                    Hop.SOURCE_TO_DL,
                    latest.watermark_after,
                    fenced_by=ctx.run.id,
                )
            since = parse_value(latest.watermark_after, key_type)
            return _ResumePoint(
                since=since,
                floor=lookback_floor(since, lookback),
                held=ctx.lake_table.read_window(latest),
            )
        if stored is None:
            return _ResumePoint()
        try:
            since = parse_value(stored, key_type)
        except ConfigError as exc:
            # A reload reads without it and stores a new one.
            raise ConfigError(f"{exc}: {reload_hint(ctx)}") from None
        return _ResumePoint(since=since, floor=lookback_floor(since, lookback))

    def _manifest(
        self,
        ctx: StageContext,
        load_type: LoadType,
        key: str | None,
        point: _ResumePoint,
        tracker: KeyTracker | None,
        source_rows: int | None,
    ) -> Manifest:
        after = tracker.watermark(point.since) if tracker else None
        return Manifest(
            source_name=ctx.table.source_name or "_",
            table=ctx.table.source_tablename,
            sequence=0,
            run_id=ctx.run.id,
            load_type=load_type.value,
            created_at="",
            row_count=0,
            schema=pa.schema([]),
            parts=(),
            incremental_key=key,
            key_min=tracker.text(tracker.min) if tracker else None,
            key_max=tracker.text(tracker.max) if tracker else None,
            watermark_before=None if point.since is None else format_value(point.since),
            watermark_after=None if after is None else format_value(after),
            source_row_count=source_rows,
            batch_uid=new_uuid7(),
            reload=ctx.run.reload,
        )


def _count_values(metadata: pq.FileMetaData, into: dict[str, int | None]) -> None:
    """Non-NULL values per top-level column, from the Parquet statistics (None where a row
    group has none, or for a nested column, whose leaves count otherwise)."""
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        for position in range(group.num_columns):
            chunk = group.column(position)
            name = chunk.path_in_schema
            stats = chunk.statistics
            if "." in name or stats is None or not stats.has_null_count:
                into[name.split(".", 1)[0]] = None
                continue
            if name in into and into[name] is None:
                continue
            into[name] = (into.get(name) or 0) + group.num_rows - stats.null_count


def _rows_since_full(committed: list[BatchRef]) -> int:
    """Rows of the lake's current snapshot: its newest full batch and those after it."""
    return sum(m.row_count for m in current_batches(committed))


def _future_guard(ctx: StageContext, key: str | None, schema: pa.Schema) -> FutureGuard | None:
    """The guard against time keys in the future, for an incremental time key."""
    if key is None or not is_time(schema.field(key).type):
        return None
    return FutureGuard(
        table=ctx.table.source_tablename,
        key=key,
        fallback=ctx.table.null_key_fallback,
        key_type=schema.field(key).type,
        primary_key=ctx.table.primary_key,
        tolerance=ctx.table.future_tolerance,
        policy=ctx.table.future_policy,
        now=utcnow(),
    )


def _record_held(ctx: StageContext, guard: FutureGuard) -> None:
    """What this run held back (or that it held nothing), for `status` and `table show`."""
    held = guard.summary()
    if held != ctx.table.future_held:
        ctx.repo.update_table(
            ctx.table.source_tablename, {"source_to_dl_future_held": held}, fenced_by=ctx.run.id
        )


def _verify_lake_follows(ctx: StageContext) -> bool:
    """Whether this run's template has verify_lake after the current stage: then the batch
    stays pending until verify_lake publishes it, so hop 2 never sees an unchecked batch."""
    return any(
        stage.stage_type == VerifyLake.name and stage.stage_order > ctx.stage.stage_order
        for stage in ctx.plan
    )


def _advance_watermark(ctx: StageContext, manifest: Manifest) -> None:
    """Called once the batch is published: the watermark never runs ahead of the lake (and
    if this update is lost, the next run takes the value from the lake)."""
    crash_point("lake:after_manifest")
    if manifest.watermark_after is not None:
        ctx.repo.set_watermark(
            ctx.table.source_tablename,
            Hop.SOURCE_TO_DL,
            manifest.watermark_after,
            fenced_by=ctx.run.id,
        )


class VerifyLake(StageType):
    """The batch this run wrote matches its manifest (parts, checksums, row counts, schema)
    and, for a full load, the row count the source took in the read's own snapshot; only
    then is it published and the watermark moved.

    A batch that fails stays unpublished: no reader and no hop 2 ever sees it, the watermark
    stays, and the next hop 1 run removes its files and reads its rows again. (A batch this run
    published already, when this stage is retried after publishing, is checked again but not
    withdrawn: a hop 2 run may hold it by then; the failure says so.)
    """

    name: ClassVar[str] = "verify_lake"
    hop: ClassVar[Hop] = Hop.SOURCE_TO_DL

    def run(self, ctx: StageContext) -> StageResult:
        lake_table = ctx.lake_table
        # Published already: a retry of this stage after the publication (or a template whose
        # extract published because no verify_lake followed it when it ran). A publication
        # of this run's that died after its Iceberg commit stays pending: publish completes it.
        published = lake_table.manifests(
            ref for ref in lake_table.batches(complete=False) if ref.run_id == ctx.run.id
        )
        pending = lake_table.pending(ctx.run.id)
        if not pending and not published:
            self._nothing_to_verify(ctx)
        rows = 0
        paths: list[str] = []
        for manifest in sorted([*published, *pending], key=lambda m: m.sequence):
            try:
                rows += self._verify(lake_table, manifest)
            except TerminalError as exc:
                if manifest in published:
                    raise TerminalError(
                        f"{exc} (batch {manifest.sequence} was published already, before this "
                        "retry of verify_lake: it stays; run a full load to replace it)"
                    ) from exc
                raise
            paths.extend(lake_table.store.display(p) for p in lake_table.part_paths(manifest))
        for manifest in pending:
            crash_point("lake:before_publish")
            # First, so a run reaped meanwhile says so before it looks for a batch the run
            # that replaced it may have removed; the Iceberg commit is fenced itself as well.
            ctx.fence()
            lake_table.publish(manifest, fenced_by=ctx.run.id)
        newest = max([*published, *pending], key=lambda m: m.sequence, default=None)
        if newest is not None:
            _advance_watermark(ctx, newest)
        return StageResult(rows=rows, file_paths=paths)

    def _nothing_to_verify(self, ctx: StageContext) -> None:
        """Fine when this run's extract found nothing new; not when its batch has vanished."""
        extracted = sum(
            log.rows_processed or 0
            for log in ctx.repo.stage_logs(ctx.run.id)
            if log.stage_type == Extract.name and log.status == "success"
        )
        if extracted:
            raise TerminalError(
                f"this run extracted {extracted} rows but its lake batch is gone (removed by "
                "another hop 1 run after this one was taken for dead?); nothing was published "
                "and the watermark did not move: run hop 1 again"
            )

    def _verify(self, lake_table: LakeTable, manifest: Manifest) -> int:
        base = lake_table.batch_path(manifest)
        counted = 0
        values: dict[str, int | None] = {}
        for part in manifest.parts:
            path = posixpath.join(base, part.path)
            digest, size = lake_table.store.sha256_of(path)
            if digest != part.sha256 or size != part.bytes:
                raise TerminalError(
                    f"lake part {path} does not match its manifest: sha256 {digest[:12]} "
                    f"vs {part.sha256[:12]}, {size} vs {part.bytes} bytes"
                )
            schema, footer = lake_table.part_footer(path)
            part_rows = footer.num_rows
            # Stored in the lake's physical types (a batch written before them: its own).
            schemas = (physical_schema(manifest.schema), manifest.schema)
            if not any(schema.equals(candidate) for candidate in schemas):
                raise TerminalError(f"lake part {path} has a schema other than its manifest's")
            _count_values(footer, values)
            if part_rows != part.rows:
                raise TerminalError(
                    f"lake part {path} holds {part_rows} rows, its manifest says {part.rows}"
                )
            counted += part_rows
        if counted != manifest.row_count:
            raise TerminalError(
                f"lake batch {manifest.sequence} holds {counted} rows, its manifest says "
                f"{manifest.row_count}"
            )
        expected = manifest.source_row_count
        full = manifest.load_type == LoadType.FULL.value
        if full and expected is not None and counted != expected:
            raise TerminalError(
                f"lake batch {manifest.sequence} holds {counted} rows, the source counted "
                f"{expected} in the same snapshot"
            )
        for column, written in (manifest.column_values or {}).items():
            stored = values.get(column)
            if stored is not None and stored != written:
                raise TerminalError(
                    f"lake batch {manifest.sequence}: column {column!r} holds {stored} non-NULL "
                    f"values in its Parquet files but {written} were written: values were lost or "
                    "invented on the way to disk; nothing was published"
                )
        return counted
