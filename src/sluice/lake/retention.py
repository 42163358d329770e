"""Retention: which committed batches a table may lose, and removing them safely.

Kept, always: the newest N full snapshots and everything after the oldest of them, and every
incremental batch hop 2 has not loaded yet. Removed: what the kept snapshots supersede. A
batch is removed manifest first, so it is invisible before any of its parts goes.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from sluice.lake.manifest import MANIFEST_NAME, BatchRef
from sluice.lake.reader import LakeTable

# N is per table (pipeline_config.lake_keep_full); this is N where a table does not set it.
DEFAULT_KEEP_FULL = 3


@dataclass(frozen=True)
class RetentionPlan:
    keep: tuple[int, ...]
    remove: tuple[int, ...]


def plan_retention(
    committed: list[BatchRef], keep_full: int, loaded_up_to: int | None
) -> RetentionPlan:
    """`loaded_up_to`: the newest batch sequence hop 2 has loaded (None: unknown or none)."""
    fulls = [m.sequence for m in committed if m.load_type == "full"]
    everything = tuple(m.sequence for m in committed)
    if keep_full < 1 or not fulls:
        return RetentionPlan(keep=everything, remove=())
    # With fewer snapshots than N all are kept, but loaded incrementals before the first one
    # are superseded by it all the same.
    cut = fulls[-min(keep_full, len(fulls))]
    remove = tuple(
        m.sequence
        for m in committed
        if m.sequence < cut
        and (m.load_type == "full" or (loaded_up_to is not None and m.sequence <= loaded_up_to))
    )
    return RetentionPlan(keep=tuple(s for s in everything if s not in remove), remove=remove)


def remove_batches(table: LakeTable, sequences: tuple[int, ...]) -> list[str]:
    """Delete batches, each manifest first; return the directories removed."""
    removed = []
    for sequence in sequences:
        path = table.directory_of(sequence)
        if not table.store.exists(path):
            continue
        manifest = posixpath.join(path, MANIFEST_NAME)
        if table.store.exists(manifest):
            table.store.delete_file(manifest)
        table.store.delete_dir(path)
        removed.append(table.store.display(path))
    return removed
