"""Request and response bodies of the config endpoints: what the OpenAPI document describes.

Field names follow the CLI: a table's options are named as `sluice table add` names them
(`--sink-load` is `sink_load`), so a validation message that names an option points at the
field too. Responses have the shape of the CLI's `--json` output.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from sluice.config.records import StageRecord, TableConfig
from sluice.core.future import DEFAULT_TOLERANCE, policy_of
from sluice.core.models import Hop, HopChoice
from sluice.core.schema_contract import describe_contract

# Bounds that keep a value inside the config database's INTEGER column; everything finer is
# checked by the shared validation layer, with the CLI's messages.
Int32 = Annotated[int, Field(le=2**31 - 1, ge=-(2**31))]
StrictInt32 = Annotated[StrictInt, Field(le=2**31 - 1, ge=-(2**31))]  # true is not 1


class Body(BaseModel):
    """Request bodies: unknown fields are an error, so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    detail: str = Field(description="What is wrong and how to fix it; one line.")


class ConflictBody(ErrorBody):
    active_run_id: int | None = Field(
        default=None, description="The run holding the hop, when a run is already active."
    )


# ---- sources and destinations ----------------------------------------------------------------
class ConnectionIn(Body):
    name: str = Field(description="A unique name: letters, digits, '_', '-' or '.'.")
    type: str = Field(description="Connector type, such as sqlite, duckdb or postgres.")
    creds: dict[str, Any] = Field(
        description='Connection details as a JSON object; a value {"env": "NAME"} is read from '
        "the environment when a connection opens. Never returned: responses mask secrets."
    )
    check: bool = Field(
        default=True,
        description="Connect first and refuse what does not answer; false stores it "
        "unchecked (offline setup).",
    )


class ConnectionEdit(Body):
    """As `sluice source edit` takes it: only the fields given change."""

    type: str | None = Field(
        default=None, description="A new connector type; only while no table uses it."
    )
    creds: dict[str, Any] | None = Field(
        default=None, description="New creds replacing the stored ones as a whole."
    )
    set: dict[str, Any] | None = Field(
        default=None,
        description="Single creds fields to change, the others kept (a rotated password). "
        "Applied after creds when both are given.",
    )
    check: bool = Field(
        default=True,
        description="Connect first and refuse what does not answer; false stores it "
        "unchecked (offline setup).",
    )


class Connection(BaseModel):
    id: str
    name: str
    type: str
    creds: dict[str, Any] | None = Field(
        description="Redacted: secret values are '***'. null when no key at hand opens them."
    )
    created_at: datetime | None
    unreadable: str | None = Field(
        default=None, description="Why the creds cannot be opened, and how to fix it."
    )


class ConnectionTest(BaseModel):
    name: str
    ok: bool
    detail: str


# ---- tables ----------------------------------------------------------------------------------
class TableOptions(Body):
    """A table's options as `sluice table add/edit` takes them; absent or null: unchanged."""

    sink_table: str | None = Field(
        default=None,
        description="Table in the sink (default: the source table's name without its schema); "
        "one per destination: a sink table another table loads into is refused (409).",
    )
    load: str | None = Field(default=None, description="Hop 1 load type: full | incremental.")
    key: str | None = Field(default=None, description="Hop 1 incremental key column.")
    every: Int32 | str | None = Field(
        default=None, description="Hop 1 interval: minutes, or 15m, 1h, 1d."
    )
    sink_load: str | None = Field(default=None, description="Hop 2: full | incremental.")
    sink_key: str | None = Field(default=None, description="Hop 2 key (default: lake batch).")
    sink_every: Int32 | str | None = Field(
        default=None, description="Hop 2 interval: minutes, or 15m, 1h, 1d."
    )
    primary_key: list[str] | None = Field(default=None, description="Columns to merge on.")
    pipeline: str | None = Field(default=None, description="Stage template name.")
    lookback: str | None = Field(default=None, description="Hop 1 look-back: 15m, 2h, 100.")
    null_key_fallback: str | None = Field(
        default=None, description="Hop 1: column used where the key is NULL."
    )
    # A string is let through so that the shared validation answers with the CLI's message.
    lake_keep_full: StrictInt32 | str | None = Field(
        default=None,
        description="Full snapshots the lake keeps for this table: N >= 1, or '' for the "
        "default (3).",
    )
    future_tolerance: str | None = Field(
        default=None,
        description="Hop 1: how far ahead of the clock a time key may be (30s, 15m, 1h, 2d); "
        "'' for the default (1h).",
    )
    future_policy: str | None = Field(
        default=None, description="Hop 1: rows beyond the tolerance fail the run, or hold."
    )
    fresh_within: str | None = Field(
        default=None,
        description="Hop 1 is stale when it has not succeeded for this long (90m, 2h, 1d); "
        "'' for the default (twice its schedule).",
    )
    sink_fresh_within: str | None = Field(
        default=None, description="Hop 2's freshness target, likewise."
    )
    schema_contract: str | None = Field(
        default=None,
        description="Hop 1 on source column changes, KIND=SETTING,...: added=evolve|freeze|"
        "discard, dropped=freeze|evolve, widened=evolve|freeze; merged over the stored one "
        "('' restores the defaults).",
    )
    hop_order: str | None = Field(
        default=None,
        description="after (hop 2 waits for hop 1, then loads its batch at once; the "
        "default) or independent (each hop on its own interval).",
    )
    zero_dates: str | None = Field(
        default=None,
        description="Hop 1, MySQL: a zero date ('0000-00-00') fails the run (fail, the "
        "default) or is read as NULL and counted in the run's warnings (null).",
    )
    nested: str | None = Field(
        default=None,
        description="Hop 1, MongoDB: nested documents and arrays become structs and lists "
        "(struct, the default) or JSON text (json).",
    )
    partitions: int | None = Field(
        default=None,
        description="Hop 1, full loads: ranges the read is split into, read in parallel "
        "(1-64; 0 chooses by the table's size).",
    )
    partition_by: str | None = Field(
        default=None,
        description="BigQuery: the sink table's partitioning, COLUMN[:hour|day|month|year] "
        "or COLUMN:START:END:INTERVAL, applied when the table is (re)built; '' for none.",
    )
    cluster_by: str | None = Field(
        default=None,
        description="BigQuery: up to four clustering columns, a,b; '' for none.",
    )


class TableIn(TableOptions):
    source_tablename: str = Field(description="Table in the source, e.g. sales.Orders.")
    source: str = Field(description="Source connection name.")
    destination: str = Field(description="Destination connection name.")
    check: bool = Field(
        default=True,
        description="Look at the source table, the columns named and the destination first "
        "and refuse what is not there (with the names that look alike); false stores it "
        "unchecked (offline setup).",
    )


class TableEdit(TableOptions):
    """Only the fields given change; '' clears a text option, [] the primary key."""

    source: str | None = None
    destination: str | None = None
    check: bool = Field(
        default=True,
        description="Look at the source table, the columns named and the destination first "
        "and refuse what is not there (with the names that look alike); false stores it "
        "unchecked (offline setup).",
    )


class HopIn(Body):
    hop: HopChoice = Field(default=HopChoice.ALL, description="Which hop(s); both by default.")


class HopView(BaseModel):
    schedule_minutes: int | None
    load_type: Literal["full", "incremental"]
    is_active: bool
    incremental_key: str | None
    last_incremental_value: str | None = Field(description="The watermark.")
    last_run_at: datetime | None
    last_run_status: str | None
    state: Literal["running", "active", "paused"] = Field(
        description="running: a run holds the hop; paused: inactive or unscheduled."
    )
    next_due_at: datetime | None = Field(description="When the scheduler starts it next.")
    last_success_at: datetime | None
    fresh_within: str | None = Field(
        default=None, description="The configured freshness target; null: twice the schedule."
    )
    fresh_within_seconds: int | None = Field(
        default=None,
        description="The freshness target in force; null when unscheduled or paused.",
    )
    stale: bool | None = Field(
        default=None,
        description="No success within the target (or runs but never a success); null: no target.",
    )
    last_error: str | None = Field(
        default=None, description="The first line of the error, when the hop's last run failed."
    )
    last_error_run_id: int | None = Field(default=None, description="The run that failed.")


class Table(BaseModel):
    source_tablename: str
    sink_tablename: str
    source_name: str | None
    source_type: str
    destination_name: str | None
    sink_type: str
    primary_key: list[str]
    pipeline_name: str
    lookback: str | None
    null_key_fallback: str | None
    lake_keep_full: int | None = Field(description="Full snapshots kept; null: the default (3).")
    future_tolerance: str = Field(description="Hop 1: how far ahead a time key may be.")
    future_policy: Literal["fail", "hold"]
    future_held: str | None = Field(description="What hop 1's last run held back, if anything.")
    hop_order: Literal["after", "independent"]
    schema_contract: str = Field(description="Every kind's setting: added=evolve, ...")
    zero_dates: Literal["fail", "null"] = Field(
        description="Hop 1, MySQL: a zero date fails the run, or is read as NULL."
    )
    nested: Literal["struct", "json"] = Field(
        description="Hop 1, MongoDB: nested values as structs and lists, or JSON text."
    )
    partitions: int | None = Field(
        description="Hop 1, full loads: ranges the read is split into; null: by size."
    )
    sink_partition_by: str | None = Field(description="The sink table's partitioning, if any.")
    sink_cluster_by: list[str] = Field(description="The sink table's clustering columns.")
    source_to_dl: HopView
    dl_to_sink: HopView

    @classmethod
    def of(cls, t: TableConfig, hops: dict[Hop, HopView]) -> Table:
        return cls(
            source_tablename=t.source_tablename,
            sink_tablename=t.sink_tablename,
            source_name=t.source_name,
            source_type=t.source_type,
            destination_name=t.destination_name,
            sink_type=t.sink_type,
            primary_key=list(t.primary_key),
            pipeline_name=t.pipeline_name,
            lookback=t.lookback,
            null_key_fallback=t.null_key_fallback,
            lake_keep_full=t.lake_keep_full,
            future_tolerance=t.future_tolerance or DEFAULT_TOLERANCE,
            future_policy=policy_of(t.future_policy).value,
            future_held=t.future_held,
            hop_order="independent" if t.hop_order == "independent" else "after",
            schema_contract=describe_contract(t.schema_contract),
            zero_dates="null" if t.zero_dates == "null" else "fail",
            nested="json" if t.nested == "json" else "struct",
            partitions=t.partitions,
            sink_partition_by=t.sink_partition_by,
            sink_cluster_by=list(t.sink_cluster_by),
            source_to_dl=hops[Hop.SOURCE_TO_DL],
            dl_to_sink=hops[Hop.DL_TO_SINK],
        )


# ---- stage templates -------------------------------------------------------------------------
class StageIn(Body):
    pipeline: str = Field(description="Template name (new or existing).")
    order: Int32 = Field(description="Position in the template (1, 2, ...).")
    type: str = Field(description="A registered stage type.")
    name: str = Field(description="Human-readable name.")
    driver_container: str | None = Field(default=None, description="Worker pool that runs it.")


class Stage(BaseModel):
    id: int
    pipeline_name: str
    stage_order: int
    stage_name: str
    stage_type: str
    driver_container: str | None

    @classmethod
    def of(cls, st: StageRecord) -> Stage:
        return cls(
            id=st.id,
            pipeline_name=st.pipeline_name,
            stage_order=st.stage_order,
            stage_name=st.stage_name,
            stage_type=st.stage_type,
            driver_container=st.driver_container,
        )


class LakeBatch(BaseModel):
    """A committed lake batch, as `sluice lake ls --json` shows it (without its path)."""

    batch: int
    load_type: str
    reload: bool
    rows: int
    files: int
    bytes: int
    run_id: int
    created_at: str
    key: str | None
    key_min: str | None
    key_max: str | None
    batch_uid: str | None
    # The batch's Iceberg snapshot (None: not recorded, a lake written before Iceberg).
    snapshot_id: int | None = None
    operation: str | None = None
    # A compacted batch: the batches whose rows it holds (empty for any other).
    compacted: list[int] = []


# ---- config as code ----------------------------------------------------------------------------
class ConfigDocumentIn(Body):
    document: str = Field(
        description="The YAML document, as `sluice apply FILE` takes it (docs/config-as-code.md)."
    )
    prune: bool = Field(
        default=False,
        description="Also remove what the document leaves out (without it nothing is removed).",
    )


class PlanField(BaseModel):
    field: str
    old: Any = Field(description="The stored value (null: none); secrets masked.")
    new: Any = Field(description="The document's value; secrets masked.")


class PlanStep(BaseModel):
    action: Literal["add", "change", "remove"]
    kind: Literal["source", "destination", "pipeline", "table"]
    name: str
    fields: list[PlanField]


class PlanView(BaseModel):
    applied: bool = Field(description="Whether the plan was carried out (false: a plan only).")
    changes: dict[str, int] = Field(description="How many adds, changes and removals.")
    steps: list[PlanStep]


class ConfigExport(BaseModel):
    document: str = Field(description="The config as a YAML document; secrets never in clear.")
