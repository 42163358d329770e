"""Which committed lake batches hop 2 loads, and how, from the two hops' load types.

    hop 1        hop 2        loads
    full         full         the newest full snapshot, swapped in
    full         incremental  each snapshot not yet held, merged on the key (appended without)
    incremental  full         all batches since the newest full snapshot (or all), deduplicated
                              on the key, swapped in
    incremental  incremental  the batches not yet held, merged or appended

Batches carry their own load type in their manifests, so a table whose hop-1 load type was
changed is still planned correctly. Everything before the newest full snapshot is superseded.
A reload batch (`sluice table reload`) is a full snapshot that is swapped in whole the first
time hop 2 meets it, whatever hop 2's load type; a reload run of hop 2 swaps in whole always.
"""

from __future__ import annotations

from dataclasses import dataclass

from sluice.core.models import LoadMode, LoadType
from sluice.lake.manifest import BatchRef, current_batches


@dataclass(frozen=True)
class SinkPlan:
    batches: tuple[BatchRef, ...]
    mode: LoadMode
    dedupe: bool
    fresh: bool = False  # a reload: the sink's own watermark and state start over

    @property
    def batch_uids(self) -> tuple[str | None, ...]:
        """The UUIDs of `batch_ids`, in their order."""
        return tuple(uid for m in self.batches for uid in m.identities().values())

    @property
    def batch_ids(self) -> tuple[int, ...]:
        """The batches the sink records as held: a compacted batch stands for those it
        replaced (stages/compaction.py)."""
        return tuple(sequence for m in self.batches for sequence in m.identities())


def plan_load(
    committed: list[BatchRef],
    held: set[int],
    sink_load: LoadType,
    primary_key: tuple[str, ...],
    *,
    reload: bool = False,
) -> SinkPlan:
    """What to load now; an empty plan means the sink already holds everything it should."""
    current = current_batches(committed)
    # One batch read once has each key once; several, or a compacted one, may repeat it.
    dedupe = bool(primary_key) and (len(current) > 1 or any(m.covers for m in current))
    fresh = reload or bool(current and current[0].reload and current[0].sequence not in held)
    if fresh:
        return SinkPlan(batches=tuple(current), mode=LoadMode.REPLACE, dedupe=dedupe, fresh=True)
    if sink_load is LoadType.FULL:
        if {s for m in current for s in m.identities()} == held:
            return SinkPlan(batches=(), mode=LoadMode.REPLACE, dedupe=False)
        return SinkPlan(batches=tuple(current), mode=LoadMode.REPLACE, dedupe=dedupe)
    pending = tuple(m for m in current if m.sequence not in held)
    mode = LoadMode.MERGE if primary_key else LoadMode.APPEND
    return SinkPlan(batches=pending, mode=mode, dedupe=bool(primary_key))
