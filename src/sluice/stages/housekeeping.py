"""Retention applied to one table: the planned batches removed, hop 2's progress respected."""

from __future__ import annotations

import time

from sluice.config.records import TableConfig
from sluice.config.runs import RunRepository
from sluice.core.errors import NotFoundError
from sluice.core.models import RunStatus
from sluice.lake.reader import LakeTable
from sluice.lake.retention import DEFAULT_KEEP_FULL, plan_retention, remove_batches
from sluice.lake.store import LakeStore

# A compaction's directory that no snapshot names and nothing wrote to for this long was left
# by one that died (stages/compaction.py): a live one writes its files within minutes.
ABANDONED_COMPACTION_S = 3600


def loaded_up_to(config: TableConfig) -> int | None:
    """The newest lake batch hop 2 has loaded, when its watermark is the batch sequence."""
    value = config.dl_to_sink.last_incremental_value
    if config.dl_to_sink.incremental_key or value is None or not value.isdigit():
        return None
    return int(value)


def keep_full(config: TableConfig) -> int:
    """The full snapshots this table's lake keeps: its own setting, else the default."""
    return config.lake_keep_full or DEFAULT_KEEP_FULL


def collect_garbage(
    store: LakeStore,
    config: TableConfig,
    runs: RunRepository,
    *,
    dry_run: bool = False,
    lake_table: LakeTable | None = None,
) -> list[int]:
    """Remove what retention allows for this table, the pending batches of runs that are
    over (killed before verify_lake published them: nothing can publish them any more) and
    the directories of compactions that died before their commit; return the batch
    sequences (to be) removed. `lake_table`: the table as a stage already
    looked at it (its index is not read again)."""
    lake_table = lake_table or LakeTable(store, config.source_name or "_", config.source_tablename)
    plan = plan_retention(lake_table.batches(), keep_full(config), loaded_up_to(config))
    abandoned = [m.sequence for m in lake_table.pending() if _is_over(runs, m.run_id)]
    compactions = lake_table.abandoned_compactions(time.time() - ABANDONED_COMPACTION_S)
    if not dry_run:
        for directory in compactions:
            store.delete_dir(directory)
        if store.catalog is not None:
            # Their snapshots first: no Iceberg reader is left pointing at files that go.
            store.catalog.expire(lake_table, set(plan.remove))
        remove_batches(lake_table, plan.remove)
        for path in (lake_table.batch_dirs().get(sequence) for sequence in abandoned):
            if path is not None:
                store.delete_dir(path)
    return sorted([*plan.remove, *abandoned])


def _is_over(runs: RunRepository, run_id: int) -> bool:
    try:
        status = runs.get_run(run_id).status
    except NotFoundError:
        return True  # its run was deleted with its table's history
    return status in (RunStatus.SUCCESS, RunStatus.FAILED)
