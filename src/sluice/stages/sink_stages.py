"""Hop 2 (dl_to_sink): check_sink, load, verify_sink."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from sluice.config.records import TableConfig
from sluice.connectors.base import ColumnProfile, LoadRequest
from sluice.core.bounds import Bound, same, widest
from sluice.core.errors import ConfigError, ReloadNeeded, StageError, TerminalError
from sluice.core.faults import crash_point
from sluice.core.infinity import mark_infinite, refuse_infinite_key
from sluice.core.models import Hop, LoadType
from sluice.core.watermark import format_value, parse_value
from sluice.lake.manifest import BatchRef, Manifest
from sluice.lake.physical import physical_type
from sluice.lake.reader import LakeTable
from sluice.stages.compaction import compact_by_policy
from sluice.stages.context import StageContext, StageResult
from sluice.stages.housekeeping import collect_garbage
from sluice.stages.incremental import conform, unify
from sluice.stages.registry import StageType
from sluice.stages.reload import check_identities, reload_hint
from sluice.stages.sink_plan import plan_load

log = logging.getLogger("sluice.stages")


def _committed_or_fail(ctx: StageContext, lake_table: LakeTable) -> list[BatchRef]:
    committed = lake_table.batches()
    if not committed:
        raise TerminalError(
            f"the lake holds no committed batch of {ctx.table.source_tablename!r} yet: run hop 1 "
            f"first (`sluice run {ctx.table.source_tablename} --hop source_to_dl`)"
        )
    return committed


class CheckSink(StageType):
    """The sink answers; the lake has data for it; the primary key exists in the lake schema."""

    name: ClassVar[str] = "check_sink"
    hop: ClassVar[Hop] = Hop.DL_TO_SINK

    def run(self, ctx: StageContext) -> StageResult:
        lake_table = ctx.lake_table
        newest = lake_table.manifest(_committed_or_fail(ctx, lake_table)[-1].sequence)
        names = set(newest.schema.names)
        for column in ctx.table.primary_key:
            if column not in names:
                raise TerminalError(
                    f"primary key column {column!r} is not in the lake's schema of "
                    f"{ctx.table.source_tablename!r}; its columns are "
                    + ", ".join(newest.schema.names)
                )
        sink_key = ctx.table.dl_to_sink.incremental_key
        if sink_key and sink_key not in names:
            raise TerminalError(f"sink incremental key {sink_key!r} is not in the lake's schema")
        sink = ctx.open_sink()
        try:
            # No count: verify_sink counts after the load; a scan here would be thrown away.
            sink.check(ctx.sink_ref, count_rows=False)
        finally:
            sink.close()
        return StageResult(rows=0)


class Load(StageType):
    """Applies the planned lake batches to the sink in one transaction (see sink_plan)."""

    name: ClassVar[str] = "load"
    hop: ClassVar[Hop] = Hop.DL_TO_SINK

    def run(self, ctx: StageContext) -> StageResult:
        lake_table = ctx.lake_table
        committed = _committed_or_fail(ctx, lake_table)
        hop = ctx.table.dl_to_sink
        sink = ctx.open_sink()
        try:
            identities = sink.held_identities(ctx.sink_ref, lake_table.key)
            if not ctx.run.reload:
                check_identities(ctx, committed, identities)
            held = set(identities)
            plan = plan_load(
                committed, held, hop.load_type, ctx.table.primary_key, reload=ctx.run.reload
            )
            if not plan.batches:
                self._advance_watermark(ctx, held, None)
                return StageResult(rows=0)
            manifests = lake_table.manifests(plan.batches)
            infinite = {c for m in manifests for c in m.column_infinities or {}}
            schema = mark_infinite(unify([m.schema for m in manifests]), infinite)
            key_filter = (
                _SinkKeyFilter.for_table(ctx, schema, fresh=plan.fresh)
                if hop.incremental_key
                else None
            )
            rows_read = 0

            def stream() -> Iterator[pa.RecordBatch]:
                nonlocal rows_read
                for manifest in manifests:
                    for batch in lake_table.read(manifest):
                        rows_read += batch.num_rows
                        ctx.progress(rows_read)
                        fitted = conform(batch, schema)
                        yield key_filter.apply(fitted) if key_filter else fitted

            request = LoadRequest(
                table=ctx.sink_ref,
                mode=plan.mode,
                schema=schema,
                lake_table=lake_table.key,
                batch_ids=plan.batch_ids,
                run_id=ctx.run.id,
                primary_key=ctx.table.primary_key,
                dedupe=plan.dedupe,
                batch_uids=plan.batch_uids,
                before_commit=ctx.fence,
                partition_by=ctx.table.sink_partition_by,
                cluster_by=ctx.table.sink_cluster_by,
                **_files_as_stored(lake_table, manifests, schema, exact=key_filter is None),
            )
            try:
                result = sink.load(request, stream())
            except ReloadNeeded as exc:
                raise TerminalError(f"{exc}: {reload_hint(ctx, Hop.DL_TO_SINK)}") from None
            crash_point("load:after_commit")
        finally:
            sink.close()
        loaded = set(plan.batch_ids) if plan.fresh else set(plan.batch_ids) | held
        self._retention(ctx, self._advance_watermark(ctx, loaded, key_filter))
        paths = [lake_table.store.display(p) for m in manifests for p in lake_table.part_paths(m)]
        return StageResult(rows=result.rows_loaded, file_paths=paths)

    @staticmethod
    def _retention(ctx: StageContext, table: TableConfig) -> None:
        """The automatic retention pass after a successful load (`table`: the row with the
        watermark the load wrote); a failure only warns."""
        try:
            removed = collect_garbage(ctx.lake, table, ctx.repo, lake_table=ctx.lake_table)
        except StageError as exc:  # the lake's storage errors
            log.warning("retention of %s skipped: %s", ctx.table.source_tablename, exc)
            return
        if removed:
            log.info("retention removed lake batches %s of %s", removed, ctx.table.source_tablename)
        try:
            # A table of its own: retention may have moved the Iceberg table on.
            lake_table = LakeTable(ctx.lake, ctx.table.source_name or "_", table.source_tablename)
            compacted = compact_by_policy(lake_table, table, ctx.run.id)
        except StageError as exc:  # the lake's storage errors, a batch published meanwhile
            log.warning("compaction of %s skipped: %s", ctx.table.source_tablename, exc)
            return
        if compacted is not None:
            log.info(
                "compacted lake batches %s of %s into one",
                [sequence for sequence, _ in compacted.covers],
                ctx.table.source_tablename,
            )

    @staticmethod
    def _advance_watermark(
        ctx: StageContext, held: set[int], key_filter: _SinkKeyFilter | None
    ) -> TableConfig:
        """Record progress after the sink committed (the sink's state table stays the truth);
        the table's row as it now stands."""
        if key_filter is not None:
            if key_filter.max is None:
                return ctx.table
            return ctx.repo.set_watermark(
                ctx.table.source_tablename,
                Hop.DL_TO_SINK,
                format_value(key_filter.max),
                fenced_by=ctx.run.id,
            )
        if ctx.table.dl_to_sink.incremental_key or not held:
            return ctx.table
        return ctx.repo.set_watermark(
            ctx.table.source_tablename, Hop.DL_TO_SINK, str(max(held)), fenced_by=ctx.run.id
        )


def _files_as_stored(
    lake_table: LakeTable, manifests: list[Manifest], schema: pa.Schema, *, exact: bool
) -> dict[str, Any]:
    """LoadRequest's `files` and `files_schema`, where the stream is exactly the rows of the
    batches' files: a local lake, nothing filtered, every batch already in the load's schema
    (a batch with fewer columns or other types is conformed on the way)."""
    wanted = [(field.name, field.type) for field in schema]
    if not (exact and lake_table.store.local):
        return {}
    if any([(field.name, field.type) for field in m.schema] != wanted for m in manifests):
        return {}
    stored = pa.schema([field.with_type(physical_type(field.type, field.name)) for field in schema])
    files = tuple(path for m in manifests for path in lake_table.part_paths(m))
    return {"files": files, "files_schema": stored}


class _SinkKeyFilter:
    """Hop 2 on a user column: rows of new batches whose key is at or after the hop-2 watermark."""

    def __init__(self, key: str, since: Any) -> None:
        self.key = key
        self.since = since
        self.max: Any = since

    @classmethod
    def for_table(cls, ctx: StageContext, schema: pa.Schema, *, fresh: bool) -> _SinkKeyFilter:
        """`fresh`: a reload swaps in every row, so the stored watermark bounds nothing."""
        key = ctx.table.dl_to_sink.incremental_key
        assert key is not None
        stored = None if fresh else ctx.table.dl_to_sink.last_incremental_value
        kind = schema.field(key).type
        try:
            return cls(key, None if stored is None else parse_value(stored, kind))
        except ConfigError as exc:
            raise ConfigError(f"{exc}: {reload_hint(ctx, Hop.DL_TO_SINK)}") from None

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        column = batch.column(self.key)
        if self.since is not None:
            batch = batch.filter(pc.greater_equal(column, pa.scalar(self.since, type=column.type)))
            column = batch.column(self.key)
        refuse_infinite_key(column, self.key)
        high = pc.max(column).as_py() if batch.num_rows else None
        if high is not None and (self.max is None or high > self.max):
            self.max = high
        return batch


def _exact(ctx: StageContext, held: int) -> bool:
    """Whether the sink's rows are exactly the rows of the `held` lake batches it holds (a
    single full snapshot, or batches appended without a key), so counts compare one to one."""
    hop = ctx.table.dl_to_sink
    if hop.load_type is LoadType.FULL:
        return held == 1
    return not ctx.table.primary_key


def _sink_profile(
    ctx: StageContext, lake_table: LakeTable, sink: Any, committed: list[BatchRef], held: set[int]
) -> ColumnProfile | None:
    """The sink's non-NULL values per lake column and bounds of the bounded ones, when the
    lake batches it holds all recorded theirs (older batches did not) and a per-column
    comparison can be exact (only then are their manifests read)."""
    if ctx.table.dl_to_sink.incremental_key or not _exact(ctx, len(held)):
        return None
    manifests = lake_table.manifests(m for m in committed if m.sequence in held)
    if not manifests:
        return None
    if any(m.column_values is None for m in manifests):
        return None
    columns = list(dict.fromkeys(c for m in manifests for c in m.schema.names))
    bounded = {
        column: manifests[-1].schema.field(column).type
        for column in _lake_bounds(manifests)
        if column in manifests[-1].schema.names
    }
    profile: ColumnProfile = sink.column_profile(ctx.sink_ref, columns, bounded)
    return profile


def _lake_bounds(held: list[Manifest]) -> dict[str, tuple[Bound, Bound]]:
    """(min, max) per column over the batches, for the columns every batch bounded."""
    found: dict[str, tuple[Bound, Bound]] = {}
    for column in set.intersection(*(set(m.column_bounds or {}) for m in held)):
        pairs = [(m.column_bounds or {})[column] for m in held]
        merged = (pairs[0][0], pairs[0][1])
        for low, high in pairs[1:]:
            merged = widest(merged, (low, high))
        found[column] = merged
    return found


def _compare_bounds(ctx: StageContext, held: list[Manifest], profile: ColumnProfile) -> None:
    lake = _lake_bounds(held)
    for column, (low, high) in profile.bounds.items():
        if column not in lake:
            continue
        want_low, want_high = lake[column]
        if not (same(want_low, low) and same(want_high, high)):
            raise TerminalError(
                f"sink table {ctx.sink_ref}: column {column!r} holds values from {low} to "
                f"{high} but the lake batches it holds range from {want_low} to {want_high} "
                "(dates as days, timestamps as microseconds since 1970): values changed on "
                "the way into the sink (a driver, type mapping or trigger there); the load "
                "committed, so fix the cause and run `sluice table reload "
                f"{ctx.table.source_tablename} --hop dl_to_sink`"
            )


class VerifySink(StageType):
    """The sink holds what the lake says it should: the batches, and the row count where exact."""

    name: ClassVar[str] = "verify_sink"
    hop: ClassVar[Hop] = Hop.DL_TO_SINK

    def run(self, ctx: StageContext) -> StageResult:
        lake_table = ctx.lake_table
        committed = _committed_or_fail(ctx, lake_table)
        hop = ctx.table.dl_to_sink
        sink = ctx.open_sink()
        try:
            info = sink.check(ctx.sink_ref)
            if info is None:
                raise TerminalError(f"sink table {ctx.sink_ref} does not exist after the load")
            identities = sink.held_identities(ctx.sink_ref, lake_table.key)
            profile = _sink_profile(ctx, lake_table, sink, committed, set(identities))
        finally:
            sink.close()
        check_identities(ctx, committed, identities)
        held = set(identities)
        sink_rows = info.row_count or 0
        # Batches committed after the load began belong to the next run, not to this check.
        loaded_up_to = max(held, default=0)
        known = [m for m in committed if m.sequence <= loaded_up_to]
        missing = plan_load(known, held, hop.load_type, ctx.table.primary_key)
        if missing.batches:
            raise TerminalError(
                f"sink table {ctx.sink_ref} lacks lake batch(es) "
                f"{', '.join(str(i) for i in missing.batch_ids)}"
            )
        # A compacted batch answers for each batch it replaced (stages/compaction.py).
        by_sequence = {s: m for m in committed for s in m.identities()}
        if not hop.incremental_key and held <= by_sequence.keys():
            held_refs = list(
                {by_sequence[i].sequence: by_sequence[i] for i in sorted(held)}.values()
            )
            self._reconcile(ctx, sink_rows, held_refs, profile, lake_table)
        return StageResult(rows=sink_rows)

    @staticmethod
    def _reconcile(
        ctx: StageContext,
        sink_rows: int,
        held_refs: list[BatchRef],
        profile: ColumnProfile | None,
        lake_table: LakeTable,
    ) -> None:
        lake_rows = sum(m.row_count for m in held_refs)
        exact = _exact(ctx, len(held_refs))
        if exact and sink_rows != lake_rows:
            raise TerminalError(
                f"sink table {ctx.sink_ref} has {sink_rows} rows but the lake batches it holds "
                f"have {lake_rows}"
            )
        if exact and profile is not None:
            held = lake_table.manifests(held_refs)
            _compare_bounds(ctx, held, profile)
            for column, loaded in profile.values.items():
                written = sum((m.column_values or {}).get(column, 0) for m in held)
                if loaded != written:
                    raise TerminalError(
                        f"sink table {ctx.sink_ref}: column {column!r} holds {loaded} non-NULL "
                        f"values but the lake batches it holds have {written}: values were lost "
                        "or invented on the way into the sink (a driver, type mapping or trigger "
                        "there); the load committed, so fix the cause and run `sluice table "
                        f"reload {ctx.table.source_tablename} --hop dl_to_sink`"
                    )
        if (
            ctx.table.primary_key
            and sink_rows > lake_rows
            and ctx.table.dl_to_sink.load_type is LoadType.FULL
        ):
            raise TerminalError(
                f"sink table {ctx.sink_ref} has {sink_rows} rows, more than the {lake_rows} "
                "rows of the lake batches it holds"
            )
