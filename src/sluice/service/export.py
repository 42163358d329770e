"""The config database as a document `sluice apply` takes (`sluice export`, GET
/api/config/export): sources and destinations with their secrets hidden (an {"env": NAME}
reference as it is, a stored secret as `***`, which `apply` keeps), stage templates, and each
table with the options that differ from a plain `table add`.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from sluice.config.records import TableConfig
from sluice.config.repository import DESTINATIONS, SOURCES, ConfigRepository
from sluice.connectors import registry
from sluice.core.future import DEFAULT_TOLERANCE
from sluice.service.catalog import DEFAULT_SCHEDULE_MINUTES


def export_document(repo: ConfigRepository, tables: str | None = None) -> dict[str, Any]:
    """The document; with `tables` (a pattern), those tables and what they use."""
    chosen = [t for t in repo.list_tables()
              if tables is None or fnmatch.fnmatchcase(t.source_tablename, tables)]  # fmt: skip
    document: dict[str, Any] = {}
    for kind, section, used in (
        (SOURCES, "sources", {t.source_name for t in chosen}),
        (DESTINATIONS, "destinations", {t.destination_name for t in chosen}),
    ):
        listed = {}
        for record in repo.list_connections(kind):
            if tables is not None and record.name not in used:
                continue
            if record.unreadable:
                creds: dict[str, Any] = {}
            else:
                creds = registry.redacted_creds(record.type, record.creds, role=kind.label)
            listed[record.name] = {"type": record.type, "creds": creds}
        if listed:
            document[section] = listed
    pipelines: dict[str, list[dict[str, Any]]] = {}
    wanted = {t.pipeline_name for t in chosen}
    for stage in repo.list_stages():
        if tables is not None and stage.pipeline_name not in wanted:
            continue
        entry: dict[str, Any] = {"type": stage.stage_type}
        if stage.stage_name != stage.stage_type:
            entry["name"] = stage.stage_name
        if stage.driver_container:
            entry["driver_container"] = stage.driver_container
        pipelines.setdefault(stage.pipeline_name, []).append(entry)
    if pipelines:
        document["pipelines"] = pipelines
    if chosen:
        document["tables"] = [_table(t) for t in chosen]
    return document


def export_yaml(repo: ConfigRepository, tables: str | None = None) -> str:
    import yaml

    header = "# sluice config, as `sluice export` wrote it; apply with `sluice apply FILE`\n"
    body = yaml.safe_dump(
        export_document(repo, tables), sort_keys=False, allow_unicode=True, width=100
    )
    return header + str(body)


def _table(t: TableConfig) -> dict[str, Any]:
    hop1, hop2 = t.source_to_dl, t.dl_to_sink
    entry: dict[str, Any] = {
        "source_tablename": t.source_tablename,
        "source": t.source_name,
        "destination": t.destination_name,
    }
    optional: list[tuple[str, Any, Any]] = [
        ("sink_table", t.sink_tablename, t.source_tablename.rsplit(".", 1)[-1]),
        ("primary_key", list(t.primary_key), []),
        ("load", hop1.load_type.value, "full"),
        ("key", hop1.incremental_key, None),
        ("every", hop1.schedule_minutes, DEFAULT_SCHEDULE_MINUTES),
        ("sink_load", hop2.load_type.value, "full"),
        ("sink_key", hop2.incremental_key, None),
        ("sink_every", hop2.schedule_minutes, DEFAULT_SCHEDULE_MINUTES),
        ("pipeline", t.pipeline_name, "default"),
        ("lookback", t.lookback, None),
        ("null_key_fallback", t.null_key_fallback, None),
        ("lake_keep_full", t.lake_keep_full, None),
        ("future_tolerance", t.future_tolerance, DEFAULT_TOLERANCE),
        ("future_policy", t.future_policy, "fail"),
        ("hop_order", t.hop_order, "after"),
        ("schema_contract", t.schema_contract, None),
        ("zero_dates", t.zero_dates, "fail"),
        ("nested", t.nested, "struct"),
        ("partitions", t.partitions, None),
        ("fresh_within", hop1.fresh_within, None),
        ("sink_fresh_within", hop2.fresh_within, None),
        ("partition_by", t.sink_partition_by, None),
        ("cluster_by", list(t.sink_cluster_by), []),
        ("active", hop1.is_active, True),
        ("sink_active", hop2.is_active, True),
    ]
    for name, value, default in optional:
        if value is not None and value != default:
            entry[name] = value
    return entry
