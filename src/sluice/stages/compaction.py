"""Compaction: a table's small incremental batches rewritten as one, the rows unchanged.

An incremental-only table gains a batch (files, a manifest, an Iceberg snapshot) with every
hop 1 run and never sheds one, so its reads and commits would slow down forever. Compaction
takes the newest run of small incremental batches hop 2 has loaded (the table's newest batch
included, all with one schema) and writes their rows, in order, as one batch: its parts are
few and large, its manifest records the (sequence, UUID) of every batch it replaces, and it
takes the newest one's sequence. One Iceberg snapshot swaps the files; the replaced
batches' snapshots are expired and their directories removed.

What hop 2 has loaded or will load does not change: the compacted batch is recorded as held
by a sink that holds the batches it replaces (their identities, BatchRef.identities), it is
only made of batches every sink load already took, and a sink loading it afresh (a reload, a
full hop 2) gets the same rows in the same order. It runs after hop 2's load, which holds the
table's hop 2 lock (no other load reads the files it removes), by policy; `sluice lake
compact` runs it by hand.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sluice.config.records import TableConfig
from sluice.core.clock import iso, utcnow
from sluice.core.errors import TerminalError
from sluice.core.faults import crash_point
from sluice.lake.layout import compacted_dir_name
from sluice.lake.manifest import BatchRef, Manifest, current_batches
from sluice.lake.reader import LakeTable
from sluice.lake.writer import BatchWriter
from sluice.stages.housekeeping import loaded_up_to

log = logging.getLogger("sluice.stages")

# A batch at most this large is small: compacting it is worth its rewrite. A compacted batch
# that grows past it is left alone by later compactions, so each row is rewritten a bounded
# number of times.
SMALL_BATCH_BYTES = 64 << 20
# The policy: hop 2 compacts once this many small batches have piled up.
POLICY_BATCHES = 16


@dataclass(frozen=True)
class CompactionPlan:
    batches: tuple[BatchRef, ...]  # oldest first; empty: nothing to compact

    @property
    def sequences(self) -> list[int]:
        return [ref.sequence for ref in self.batches]


def plan_compaction(committed: list[BatchRef], loaded_up_to: int | None) -> CompactionPlan:
    """The batches a compaction may merge: the newest run of small incremental batches of
    the current table, up to and including its newest batch, all loaded by hop 2 (the
    batch sequence `loaded_up_to` is its watermark; None: unknown, nothing is compacted).
    Batches a sink has not loaded yet stay as they are, so a sink never has to load part
    of a compacted batch."""
    if not committed or loaded_up_to is None or committed[-1].sequence > loaded_up_to:
        return CompactionPlan(())
    run: list[BatchRef] = []
    for ref in reversed(current_batches(committed)):
        if ref.load_type == "full" or ref.reload or ref.bytes > SMALL_BATCH_BYTES:
            break
        run.append(ref)
    return CompactionPlan(tuple(reversed(run)) if len(run) > 1 else ())


def compact(
    lake_table: LakeTable, plan: CompactionPlan, run_id: int, *, fenced_by: int | None = None
) -> Manifest | None:
    """Write and publish the compacted batch of `plan` (None: nothing to do). Batches with
    another schema than the newest one's are left out (from the oldest on): a compacted
    batch holds one schema, the one its rows were read with."""
    manifests = lake_table.manifests(plan.batches)
    newest = manifests[-1] if manifests else None
    if newest is not None:
        manifests = _same_schema_run(manifests, newest)
    if newest is None or len(manifests) < 2:
        return None
    token = uuid.uuid4().hex[:8]
    writer = BatchWriter(
        lake_table,
        run_id,
        newest.schema,
        compacting=(newest.sequence, compacted_dir_name(newest.sequence, token)),
    )
    try:
        for manifest in manifests:
            for batch in lake_table.read(manifest):
                writer.write(batch)
        first = manifests[0]
        compacted = writer.commit(
            Manifest(
                source_name=newest.source_name,
                table=newest.table,
                sequence=newest.sequence,
                run_id=run_id,
                load_type="incremental",
                created_at=iso(utcnow()) or "",
                row_count=0,
                schema=newest.schema,
                parts=(),
                incremental_key=newest.incremental_key,
                key_min=first.key_min,
                key_max=newest.key_max,
                watermark_before=first.watermark_before,
                watermark_after=newest.watermark_after,
                batch_uid=str(uuid.uuid4()),
                covers=tuple(pair for m in manifests for pair in m.ref.identities().items()),
                directory=compacted_dir_name(newest.sequence, token),
            ),
            lake_table.read_window(newest),
            publish=False,
        )
        _check_same_rows(lake_table, compacted, manifests)
        crash_point("compaction:before_commit")
        lake_table.publish_compaction(compacted, manifests, fenced_by=fenced_by)
    except BaseException:
        if not _published(lake_table, compacted_dir_name(newest.sequence, token)):
            writer.abort()  # nothing published: its directory goes, the batches stay
        raise
    return compacted


def _published(lake_table: LakeTable, directory: str) -> bool:
    """Whether the table's Iceberg snapshot names the compacted batch in `directory` (its
    commit went through before the error), read afresh; unsure counts as published, so
    its files are never removed under a snapshot that names them."""
    try:
        fresh = LakeTable(lake_table.store, lake_table.source_name, lake_table.table)
        return any(ref.directory == directory for ref in fresh.batches(complete=False))
    except Exception:  # noqa: BLE001 - whatever the error, unsure is published
        return True


def compact_by_policy(lake_table: LakeTable, table: TableConfig, run_id: int) -> Manifest | None:
    """After hop 2's load (run `run_id`, holding the table's hop 2 lock): compact once
    POLICY_BATCHES small batches have piled up."""
    plan = plan_compaction(lake_table.batches(), loaded_up_to(table))
    if len(plan.batches) < POLICY_BATCHES:
        return None
    return compact(lake_table, plan, run_id, fenced_by=run_id)


def _same_schema_run(manifests: list[Manifest], newest: Manifest) -> list[Manifest]:
    run: list[Manifest] = []
    for manifest in reversed(manifests):
        if not manifest.schema.equals(newest.schema, check_metadata=True):
            break
        run.append(manifest)
    return list(reversed(run))


def _check_same_rows(lake_table: LakeTable, compacted: Manifest, covered: list[Manifest]) -> None:
    """The compacted batch holds what the covered batches held: rows and non-NULL values per
    column, as counted while it was written; a difference fails before anything is published."""
    rows = sum(m.row_count for m in covered)
    problems = [] if compacted.row_count == rows else [f"{compacted.row_count} rows, not {rows}"]
    if all(m.column_values is not None for m in covered):
        for column, values in (compacted.column_values or {}).items():
            expected = sum((m.column_values or {}).get(column, 0) for m in covered)
            if values != expected:
                problems.append(f"column {column!r} has {values} values, not {expected}")
    if problems:
        raise TerminalError(
            f"compaction of lake table {lake_table.key} wrote {'; '.join(problems)}: nothing "
            "was published and its batches stay as they were; report this as a bug"
        )
