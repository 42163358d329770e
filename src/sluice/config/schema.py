"""The config database as it stands after the newest migration.

The first six tables and their first columns are the user's contract (seed/config-db-schema.md).
Columns after the `# sluice:` markers are this design's additions: nullable, with defaults, so a
database created from the seed's description keeps working once migrated. See ARCHITECTURE.md
for what each addition holds.

Watermarks (`*_last_incremental_value`) are TIMESTAMP in the seed; here they are TEXT because an
incremental key may be an integer, a date or a string as well as a timestamp. The value is kept
in a canonical text form that round-trips the key's type exactly (see engine/watermark.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from sluice.config.types import UTCTimestamp

metadata = sa.MetaData()

pipeline_config = sa.Table(
    "pipeline_config",
    metadata,
    sa.Column("source_tablename", sa.Text, primary_key=True),
    sa.Column("sink_tablename", sa.Text),
    sa.Column("source_to_dl_schedule", sa.Integer),
    sa.Column("source_to_dl_load_type", sa.Text),
    sa.Column("source_to_dl_is_active", sa.Boolean),
    sa.Column("source_type", sa.Text, server_default="postgres"),
    sa.Column("source_to_dl_incremental_key", sa.Text),
    sa.Column("source_to_dl_last_incremental_value", sa.Text),
    sa.Column("dl_to_sink_schedule", sa.Integer),
    sa.Column("dl_to_sink_load_type", sa.Text),
    sa.Column("dl_to_sink_is_active", sa.Boolean),
    sa.Column("sink_type", sa.Text, server_default="postgres"),
    sa.Column("dl_to_sink_incremental_key", sa.Text),
    sa.Column("dl_to_sink_last_incremental_value", sa.Text),
    sa.Column("dl_to_sink_last_loader_run_timestamp", UTCTimestamp),
    sa.Column("dl_to_sink_last_loader_run_status", sa.Text),
    # sluice: hop 1's own last run, the connections used, the key and the stage template.
    sa.Column("source_to_dl_last_loader_run_timestamp", UTCTimestamp),
    sa.Column("source_to_dl_last_loader_run_status", sa.Text),
    sa.Column("source_name", sa.Text),
    sa.Column("destination_name", sa.Text),
    sa.Column("primary_key", sa.Text),
    sa.Column("pipeline_name", sa.Text, server_default="default"),
    # sluice: hop 1's look-back window (a duration, or a number for numeric keys) and the
    # column that stands in for a NULL incremental key (none: a NULL key fails the run).
    sa.Column("source_to_dl_lookback", sa.Text),
    sa.Column("source_to_dl_null_key_fallback", sa.Text),
    # sluice: how many full snapshots the lake keeps for this table (none: the default).
    sa.Column("lake_keep_full", sa.Integer),
    # sluice (0009): `after` (hop 2 waits while hop 1 runs and is due once hop 1 publishes)
    # or `independent` (each hop on its own interval).
    sa.Column("dl_to_sink_hop_order", sa.Text, server_default="after"),
    # sluice (0010): how far ahead of the clock hop 1's time key may be, what a run does with
    # rows beyond that (fail | hold), and what the last run held back (none: nothing).
    sa.Column("source_to_dl_future_tolerance", sa.Text, server_default="1h"),
    sa.Column("source_to_dl_future_policy", sa.Text, server_default="fail"),
    sa.Column("source_to_dl_future_held", sa.Text),
    # sluice (0011): what hop 1 does with added, dropped, widened, changed columns.
    sa.Column("schema_contract", sa.Text),
    # sluice (0012): a MySQL zero date fails the run (fail) or is read as NULL (null).
    sa.Column("source_to_dl_zero_dates", sa.Text, server_default="fail"),
    # sluice (0016): how many parallel ranges a full hop 1 read is split into (none: by size).
    sa.Column("source_to_dl_partitions", sa.Integer),
    # sluice (0017): how recently each hop must have succeeded (none: twice its schedule).
    sa.Column("source_to_dl_fresh_within", sa.Text),
    sa.Column("dl_to_sink_fresh_within", sa.Text),
    # sluice (0019): the sink table's partitioning and clustering, where the sink has them.
    sa.Column("dl_to_sink_partition_by", sa.Text),
    sa.Column("dl_to_sink_cluster_by", sa.Text),
    # sluice (0021): a document source's nested values as structs and lists, or JSON text.
    sa.Column("source_to_dl_nested", sa.Text, server_default="struct"),
)

sources_config = sa.Table(
    "sources_config",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("source_name", sa.Text, nullable=False, unique=True),
    sa.Column("source_type", sa.Text, nullable=False),
    sa.Column("source_creds", sa.Text),
    sa.Column("created_at", UTCTimestamp),
)

destinations_config = sa.Table(
    "destinations_config",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("destination_name", sa.Text, nullable=False, unique=True),
    sa.Column("destination_type", sa.Text, nullable=False),
    sa.Column("destination_creds", sa.Text),
    sa.Column("created_at", UTCTimestamp),
)

pipeline_stages = sa.Table(
    "pipeline_stages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pipeline_name", sa.Text, nullable=False),
    sa.Column("stage_order", sa.Integer, nullable=False),
    sa.Column("stage_name", sa.Text, nullable=False),
    sa.Column("stage_type", sa.Text, nullable=False),
    sa.Column("driver_container", sa.Text),
    sa.UniqueConstraint("pipeline_name", "stage_order", name="uq_pipeline_stages_order"),
)

pipeline_runs_master = sa.Table(
    "pipeline_runs_master",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "source_tablename",
        sa.Text,
        sa.ForeignKey("pipeline_config.source_tablename", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("pipeline_name", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("current_stage", sa.Integer),
    sa.Column("total_stages", sa.Integer),
    sa.Column("triggered_by", sa.Text),
    sa.Column("started_at", UTCTimestamp),
    sa.Column("completed_at", UTCTimestamp),
    sa.Column("error_message", sa.Text),
    # sluice: which hop(s) the run covers: source_to_dl, dl_to_sink or all.
    sa.Column("hop", sa.Text, server_default="all"),
    # sluice: liveness of the process executing the run, for reaping dead runs.
    sa.Column("heartbeat_at", UTCTimestamp),
    sa.Column("worker_host", sa.Text),
    sa.Column("worker_pid", sa.Integer),
    sa.Column("worker_started", sa.Text),
    # sluice (0011): a run of `sluice table reload`: a fresh full read and a whole swap.
    sa.Column("reload", sa.Boolean, server_default=sa.false()),
    sa.Index("ix_runs_table_id", "source_tablename", "id"),
    sa.Index("ix_runs_status", "status"),
)

pipeline_run_stage_logs = sa.Table(
    "pipeline_run_stage_logs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "pipeline_run_id",
        sa.Integer,
        sa.ForeignKey("pipeline_runs_master.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("stage_order", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("rows_processed", sa.Integer),
    sa.Column("file_paths", sa.Text),
    sa.Column("time_taken", sa.Text),
    sa.Column("started_at", UTCTimestamp),
    # sluice: what ran, when it ended and why it failed.
    sa.Column("stage_name", sa.Text),
    sa.Column("stage_type", sa.Text),
    sa.Column("completed_at", UTCTimestamp),
    sa.Column("error_message", sa.Text),
    sa.Column("attempts", sa.Integer),
    # sluice (0011): what the stage applied that the user should know of, one per line.
    sa.Column("warnings", sa.Text),
    sa.Index("ix_stage_logs_run", "pipeline_run_id", "stage_order"),
)

# sluice: settings of this installation (for example the lake location).
sluice_settings = sa.Table(
    "sluice_settings",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# sluice (0018): where alerts go (Apprise URLs, sealed) and what each hop was last announced as.
sluice_alert_targets = sa.Table(
    "sluice_alert_targets",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("created_at", UTCTimestamp, nullable=False),
    # 0020: the tables whose alerts it takes, as comma-separated name patterns; none: all.
    sa.Column("tables", sa.Text),
)

sluice_alert_states = sa.Table(
    "sluice_alert_states",
    metadata,
    sa.Column("source_tablename", sa.Text, primary_key=True),
    sa.Column("hop", sa.Text, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("changed_at", UTCTimestamp, nullable=False),
)

SEED_TABLES = (
    "pipeline_config",
    "sources_config",
    "destinations_config",
    "pipeline_stages",
    "pipeline_runs_master",
    "pipeline_run_stage_logs",
)

# sluice: at most one active run per (table, hop), whoever starts it; a run of both hops holds
# two rows. The primary key is the lock: a second insert fails inside the database.
# sluice (0013): a run's plan, frozen when the run is created: the template's stages it runs,
# as they were then. Executing the run reads only this, so editing the template meanwhile
# changes no run already made.
sluice_run_plans = sa.Table(
    "sluice_run_plans",
    metadata,
    sa.Column(
        "run_id",
        sa.Integer,
        sa.ForeignKey("pipeline_runs_master.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("stage_order", sa.Integer, primary_key=True),
    sa.Column("stage_name", sa.Text, nullable=False),
    sa.Column("stage_type", sa.Text, nullable=False),
    sa.Column("driver_container", sa.Text),
)

sluice_run_locks = sa.Table(
    "sluice_run_locks",
    metadata,
    sa.Column("source_tablename", sa.Text, primary_key=True),
    sa.Column("hop", sa.Text, primary_key=True),
    sa.Column(
        "run_id",
        sa.Integer,
        sa.ForeignKey("pipeline_runs_master.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("acquired_at", UTCTimestamp, nullable=False),
)

# sluice: time-limited leases, e.g. the scheduler's: one holder at a time, taken over on expiry.
# sluice (0016): the ranges of one partitioned extract, claimed by whichever process reads
# each first (the stage's own or a worker's task) and holding each range's written parts.
sluice_stage_partitions = sa.Table(
    "sluice_stage_partitions",
    metadata,
    sa.Column("fan_id", sa.Text, primary_key=True),  # one extract attempt
    sa.Column("partition_no", sa.Integer, primary_key=True),
    sa.Column(
        "run_id",
        sa.Integer,
        sa.ForeignKey("pipeline_runs_master.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("stage_order", sa.Integer, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # pending, running, done, failed
    sa.Column("claimed_by", sa.Text),
    sa.Column("rows", sa.Integer, nullable=False, server_default="0"),
    sa.Column("result", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("beat_at", UTCTimestamp),
)

# sluice (0016): which worker runs a stage's Celery task (a redelivered task runs only when
# the first delivery's worker stopped beating) and, once it ended, its answer.
sluice_stage_claims = sa.Table(
    "sluice_stage_claims",
    metadata,
    sa.Column("task_id", sa.Text, primary_key=True),
    sa.Column(
        "run_id",
        sa.Integer,
        sa.ForeignKey("pipeline_runs_master.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("claimed_by", sa.Text, nullable=False),
    sa.Column("beat_at", UTCTimestamp, nullable=False),
    sa.Column("answer", sa.Text),
)

sluice_leases = sa.Table(
    "sluice_leases",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("expires_at", UTCTimestamp, nullable=False),
    sa.Column("last_pass_at", UTCTimestamp),  # 0009: the holder's last finished pass
)

# sluice: run listings and dashboard figures of the REST API (revision 0005). Time windows
# read runs by start time, for all tables or one; each (table, hop)'s newest and last
# successful run is one index lookup; the stage log index is covering for the windowed
# figures (rows loaded per day, mean duration per stage type).
sa.Index("ix_runs_started_status", pipeline_runs_master.c.started_at, pipeline_runs_master.c.status)
sa.Index("ix_runs_triggered_by_id", pipeline_runs_master.c.triggered_by, pipeline_runs_master.c.id)
sa.Index(
    "ix_runs_table_started",
    pipeline_runs_master.c.source_tablename,
    pipeline_runs_master.c.started_at,
)
sa.Index(
    "ix_runs_table_hop_id",
    pipeline_runs_master.c.source_tablename,
    pipeline_runs_master.c.hop,
    pipeline_runs_master.c.id,
)
sa.Index(
    "ix_runs_table_hop_status",
    pipeline_runs_master.c.source_tablename,
    pipeline_runs_master.c.hop,
    pipeline_runs_master.c.status,
    pipeline_runs_master.c.completed_at,
)
sa.Index(
    "ix_stage_logs_type_started",
    pipeline_run_stage_logs.c.stage_type,
    pipeline_run_stage_logs.c.started_at,
    pipeline_run_stage_logs.c.status,
    pipeline_run_stage_logs.c.rows_processed,
    pipeline_run_stage_logs.c.time_taken,
    pipeline_run_stage_logs.c.pipeline_run_id,
)

# sluice: REST API tokens. Only the SHA-256 of a token is stored; the token itself is shown
# once, when it is created. A revoked token keeps its row (revoked_at) so listings stay honest.
sluice_api_tokens = sa.Table(
    "sluice_api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("token_sha256", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", UTCTimestamp, nullable=False),
    sa.Column("last_used_at", UTCTimestamp),
    sa.Column("revoked_at", UTCTimestamp),
)

# sluice: the dashboard's figures per whole UTC day (revision 0007), so a long window reads a
# few rows per day instead of every run and stage log in it. sluice_stats_days counts the
# changes to each day's runs and stage logs; triggers on both tables bump `changes` in the
# writer's transaction, and a day's rollup rows are used only while `rolled_up` (the count
# they were taken at) equals it. See config/stats.py.
sluice_stats_days = sa.Table(
    "sluice_stats_days",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("changes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rolled_up", sa.Integer),
)

# Runs started on the day, per table and status.
sluice_stats_runs = sa.Table(
    "sluice_stats_runs",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("source_tablename", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, primary_key=True),
    sa.Column("runs", sa.Integer, nullable=False),
)

# Stage logs started on the day, per table (their run's) and stage type: those with a
# time_taken (finished) with their summed and longest seconds, and the succeeded ones with
# their summed rows.
sluice_stats_stages = sa.Table(
    "sluice_stats_stages",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("source_tablename", sa.Text, primary_key=True),
    sa.Column("stage_type", sa.Text, primary_key=True),
    sa.Column("timed", sa.Integer, nullable=False),
    sa.Column("seconds_sum", sa.Float),
    sa.Column("seconds_max", sa.Float),
    sa.Column("succeeded", sa.Integer, nullable=False),
    sa.Column("rows_processed", sa.BigInteger),
)

# The lake's Iceberg catalog (0015): pyiceberg's SQL catalog tables, columns as pyiceberg has them.
iceberg_tables = sa.Table(
    "iceberg_tables",
    metadata,
    sa.Column("catalog_name", sa.String(255), primary_key=True),
    sa.Column("table_namespace", sa.String(255), primary_key=True),
    sa.Column("table_name", sa.String(255), primary_key=True),
    sa.Column("metadata_location", sa.String(1000)),
    sa.Column("previous_metadata_location", sa.String(1000)),
    sa.Column("iceberg_type", sa.String(5)),
)

iceberg_namespace_properties = sa.Table(
    "iceberg_namespace_properties",
    metadata,
    sa.Column("catalog_name", sa.String(255), primary_key=True),
    sa.Column("namespace", sa.String(255), primary_key=True),
    sa.Column("property_key", sa.String(255), primary_key=True),
    sa.Column("property_value", sa.String(1000), nullable=False),
)
