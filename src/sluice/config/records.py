"""Typed rows of the config database, as the rest of sluice sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sluice.core.models import Hop, LoadType, RunStatus


@dataclass(frozen=True)
class ConnectionRecord:
    """A row of sources_config or destinations_config. `creds` holds secrets: never print it."""

    id: str
    name: str
    type: str
    creds: dict[str, Any] = field(repr=False)
    created_at: datetime | None
    # Set (and creds empty) when a listing met creds no key at hand opens: why, and the fix.
    unreadable: str | None = None


@dataclass(frozen=True)
class HopConfig:
    schedule_minutes: int | None
    load_type: LoadType
    is_active: bool
    incremental_key: str | None
    last_incremental_value: str | None
    last_run_at: datetime | None
    last_run_status: str | None
    # How recently the hop must have succeeded, as a duration ("2h"); None: twice its schedule.
    fresh_within: str | None = None


@dataclass(frozen=True)
class TableConfig:
    source_tablename: str
    sink_tablename: str
    source_type: str
    sink_type: str
    source_name: str | None
    destination_name: str | None
    primary_key: tuple[str, ...]
    pipeline_name: str
    source_to_dl: HopConfig
    dl_to_sink: HopConfig
    lookback: str | None = None
    null_key_fallback: str | None = None
    lake_keep_full: int | None = None  # full snapshots the lake keeps; None: the default
    # Hop 1's time key: how far ahead of the clock it may be, what happens beyond, and what
    # the last run held back (core/future.py).
    future_tolerance: str | None = None
    future_policy: str | None = None
    future_held: str | None = None
    hop_order: str = "after"  # `after` or `independent` (scheduler/due.py)
    schema_contract: str | None = None  # core/schema_contract.py; None: the defaults
    zero_dates: str = "fail"  # a MySQL zero date fails the run (fail) or reads as NULL (null)
    # Nested documents and arrays of a document source: structs and lists, or JSON text (json).
    nested: str = "struct"
    partitions: int | None = None  # ranges a full hop 1 read is split into; None: by size
    # The sink table's layout where the sink has one (BigQuery); None / (): its default.
    sink_partition_by: str | None = None
    sink_cluster_by: tuple[str, ...] = ()

    def hop(self, hop: Hop) -> HopConfig:
        return self.source_to_dl if hop is Hop.SOURCE_TO_DL else self.dl_to_sink


@dataclass(frozen=True)
class StageRecord:
    id: int
    pipeline_name: str
    stage_order: int
    stage_name: str
    stage_type: str
    driver_container: str | None


@dataclass(frozen=True)
class RunRecord:
    id: int
    source_tablename: str
    pipeline_name: str
    status: RunStatus
    current_stage: int
    total_stages: int
    triggered_by: str
    hop: str
    started_at: datetime | None
    completed_at: datetime | None
    error_message: str | None
    heartbeat_at: datetime | None = None
    worker_host: str | None = None
    worker_pid: int | None = None
    reload: bool = False  # started by `sluice table reload`


@dataclass(frozen=True)
class StageLogRecord:
    id: int
    pipeline_run_id: int
    stage_order: int
    stage_name: str | None
    stage_type: str | None
    status: str
    rows_processed: int | None
    file_paths: list[str]
    time_taken: str | None
    started_at: datetime | None
    completed_at: datetime | None
    error_message: str | None
    attempts: int | None = None
    warnings: list[str] = field(default_factory=list)
