"""What a run would read and load, said without moving data (`sluice run --dry-run`).

It asks the same questions the check stages ask (the source table and its rows, the lake's
committed batches, what the sink's state already holds) and plans hop 2 with the same
`plan_load` the load stage uses, so the preview and the run agree on what moves.
"""

from __future__ import annotations

from sluice.config.records import TableConfig
from sluice.config.repository import DESTINATIONS, SOURCES, ConfigRepository
from sluice.connectors import registry
from sluice.core.errors import ConfigError
from sluice.core.models import Hop, HopChoice, LoadType, TableRef
from sluice.lake.reader import LakeTable
from sluice.lake.store import LakeStore
from sluice.stages.sink_plan import plan_load


def preview_run(
    repo: ConfigRepository, lake: LakeStore, table: TableConfig, choice: HopChoice
) -> list[str]:
    """One line per fact of what a run of `choice` would do now."""
    lines: list[str] = []
    if Hop.SOURCE_TO_DL in choice.hops():
        lines += _hop1(repo, table)
    if Hop.DL_TO_SINK in choice.hops():
        lines += _hop2(repo, lake, table)
    return lines


def _hop1(repo: ConfigRepository, table: TableConfig) -> list[str]:
    if not table.source_name:
        raise ConfigError(f"table {table.source_tablename!r} has no source connection")
    record = repo.get_connection(SOURCES, table.source_name)
    source = registry.open_source(record.type, record.creds)
    try:
        info = source.check(TableRef.parse(table.source_tablename))
    finally:
        source.close()
    hop = table.source_to_dl
    rows = "unknown" if info.row_count is None else f"{info.row_count:,}"
    lines = [
        f"hop 1 (source_to_dl): {table.source_name} {table.source_tablename} holds {rows} rows, "
        f"{len(info.schema)} columns"
    ]
    if hop.load_type is LoadType.FULL or not hop.incremental_key:
        lines.append("  would read every row (full load) into a new lake batch")
    elif hop.last_incremental_value is None:
        lines.append(f"  would read every row (first incremental read on {hop.incremental_key!r})")
    else:
        window = f", minus the look-back {table.lookback}" if table.lookback else ""
        lines.append(
            f"  would read rows with {hop.incremental_key} >= {hop.last_incremental_value}"
            f"{window} (incremental; rows already in the lake are skipped)"
        )
    return lines


def _hop2(repo: ConfigRepository, lake: LakeStore, table: TableConfig) -> list[str]:
    lake_table = LakeTable(lake, table.source_name or "_", table.source_tablename)
    committed = lake_table.batches()
    head = f"hop 2 (dl_to_sink): {table.sink_tablename} in {table.destination_name}"
    if not committed:
        return [f"{head}: the lake holds no committed batch yet; hop 1 must run first"]
    if not table.destination_name:
        raise ConfigError(f"table {table.source_tablename!r} has no destination connection")
    record = repo.get_connection(DESTINATIONS, table.destination_name)
    sink = registry.open_sink(record.type, record.creds)
    try:
        held = sink.held_batches(TableRef.parse(table.sink_tablename), lake_table.key)
    finally:
        sink.close()
    plan = plan_load(committed, held, table.dl_to_sink.load_type, table.primary_key)
    if not plan.batches:
        return [f"{head}: up to date (it holds every lake batch it should); would load nothing"]
    ids = ", ".join(str(m.sequence) for m in plan.batches)
    rows = sum(m.row_count for m in plan.batches)
    return [
        f"{head}: would load lake batch(es) {ids}, {rows:,} rows, as a "
        f"{plan.mode.value}{' (deduplicated on the key)' if plan.dedupe else ''}"
    ]
