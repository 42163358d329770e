-- sluice config database, as plain SQL (SQLite dialect).
--
-- The same schema that the versioned migrations (src/sluice/config/migrations) create;
-- tests/unit/config/test_init_sql.py keeps the two identical. A database created from this
-- file is stamped at the newest migration, so `sluice init` recognises it as up to date.
--
-- The six tables and their first columns are the user's contract (seed/config-db-schema.md).
-- Columns after "-- sluice:" are additions: nullable, with defaults (see ARCHITECTURE.md).
-- Timestamps are UTC ISO-8601 text (2026-01-02T03:04:05.000006Z). Watermarks
-- (*_last_incremental_value) are TEXT: a key may be a timestamp, date, integer or string.

CREATE TABLE pipeline_config (
    source_tablename TEXT NOT NULL,
    sink_tablename TEXT,
    source_to_dl_schedule INTEGER,
    source_to_dl_load_type TEXT,
    source_to_dl_is_active BOOLEAN,
    source_type TEXT DEFAULT 'postgres',
    source_to_dl_incremental_key TEXT,
    source_to_dl_last_incremental_value TEXT,
    dl_to_sink_schedule INTEGER,
    dl_to_sink_load_type TEXT,
    dl_to_sink_is_active BOOLEAN,
    sink_type TEXT DEFAULT 'postgres',
    dl_to_sink_incremental_key TEXT,
    dl_to_sink_last_incremental_value TEXT,
    dl_to_sink_last_loader_run_timestamp TIMESTAMP,
    dl_to_sink_last_loader_run_status TEXT,
    -- sluice:
    source_to_dl_last_loader_run_timestamp TIMESTAMP,
    source_to_dl_last_loader_run_status TEXT,
    source_name TEXT,
    destination_name TEXT,
    primary_key TEXT,
    pipeline_name TEXT DEFAULT 'default',
    source_to_dl_lookback TEXT,
    source_to_dl_null_key_fallback TEXT,
    lake_keep_full INTEGER,
    dl_to_sink_hop_order TEXT DEFAULT 'after',
    source_to_dl_future_tolerance TEXT DEFAULT '1h',
    source_to_dl_future_policy TEXT DEFAULT 'fail',
    source_to_dl_future_held TEXT,
    schema_contract TEXT,
    source_to_dl_zero_dates TEXT DEFAULT 'fail',
    source_to_dl_partitions INTEGER,
    source_to_dl_fresh_within TEXT,
    dl_to_sink_fresh_within TEXT,
    dl_to_sink_partition_by TEXT,
    dl_to_sink_cluster_by TEXT,
    source_to_dl_nested TEXT DEFAULT 'struct',
    PRIMARY KEY (source_tablename)
);

CREATE TABLE sources_config (
    id TEXT NOT NULL,
    source_name TEXT NOT NULL,
    source_type TEXT NOT NULL,
    source_creds TEXT,
    created_at TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE (source_name)
);

CREATE TABLE destinations_config (
    id TEXT NOT NULL,
    destination_name TEXT NOT NULL,
    destination_type TEXT NOT NULL,
    destination_creds TEXT,
    created_at TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE (destination_name)
);

CREATE TABLE pipeline_stages (
    id INTEGER NOT NULL,
    pipeline_name TEXT NOT NULL,
    stage_order INTEGER NOT NULL,
    stage_name TEXT NOT NULL,
    stage_type TEXT NOT NULL,
    driver_container TEXT,
    PRIMARY KEY (id),
    CONSTRAINT uq_pipeline_stages_order UNIQUE (pipeline_name, stage_order)
);

CREATE TABLE pipeline_runs_master (
    id INTEGER NOT NULL,
    source_tablename TEXT NOT NULL,
    pipeline_name TEXT,
    status TEXT NOT NULL,
    current_stage INTEGER,
    total_stages INTEGER,
    triggered_by TEXT,
    started_at TIMESTAMP,
    completed_at TIMESTAMP,
    error_message TEXT,
    -- sluice:
    hop TEXT DEFAULT 'all',
    heartbeat_at TIMESTAMP,
    worker_host TEXT,
    worker_pid INTEGER,
    worker_started TEXT,
    reload BOOLEAN DEFAULT 0,
    PRIMARY KEY (id),
    FOREIGN KEY (source_tablename) REFERENCES pipeline_config (source_tablename) ON DELETE CASCADE
);

CREATE TABLE pipeline_run_stage_logs (
    id INTEGER NOT NULL,
    pipeline_run_id INTEGER NOT NULL,
    stage_order INTEGER NOT NULL,
    status TEXT NOT NULL,
    rows_processed INTEGER,
    file_paths TEXT,
    time_taken TEXT,
    started_at TIMESTAMP,
    -- sluice:
    stage_name TEXT,
    stage_type TEXT,
    completed_at TIMESTAMP,
    error_message TEXT,
    attempts INTEGER,
    warnings TEXT,
    PRIMARY KEY (id),
    FOREIGN KEY (pipeline_run_id) REFERENCES pipeline_runs_master (id) ON DELETE CASCADE
);

CREATE INDEX ix_runs_table_id ON pipeline_runs_master (source_tablename, id);
CREATE INDEX ix_runs_status ON pipeline_runs_master (status);
CREATE INDEX ix_stage_logs_run ON pipeline_run_stage_logs (pipeline_run_id, stage_order);

-- sluice: settings of this installation (the lake location).
CREATE TABLE sluice_settings (
    "key" TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY ("key")
);

-- sluice: a run's plan, frozen when the run is created (the template's stages as they were).
CREATE TABLE sluice_run_plans (
    run_id INTEGER NOT NULL,
    stage_order INTEGER NOT NULL,
    stage_name TEXT NOT NULL,
    stage_type TEXT NOT NULL,
    driver_container TEXT,
    PRIMARY KEY (run_id, stage_order),
    FOREIGN KEY (run_id) REFERENCES pipeline_runs_master (id) ON DELETE CASCADE
);

-- sluice: at most one active run per (table, hop); a run of both hops holds two rows.
CREATE TABLE sluice_run_locks (
    source_tablename TEXT NOT NULL,
    hop TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    acquired_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source_tablename, hop),
    FOREIGN KEY (run_id) REFERENCES pipeline_runs_master (id) ON DELETE CASCADE
);

-- sluice: time-limited leases (the scheduler's), taken over when they expire.
CREATE TABLE sluice_leases (
    name TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    last_pass_at TIMESTAMP,
    PRIMARY KEY (name)
);

-- The default stage template: two worker pools, one per hop.
INSERT INTO pipeline_stages (pipeline_name, stage_order, stage_name, stage_type, driver_container) VALUES
    ('default', 1, 'Check source', 'check_source', 'driver_source_to_dl'),
    ('default', 2, 'Extract to lake', 'extract', 'driver_source_to_dl'),
    ('default', 3, 'Verify lake batch', 'verify_lake', 'driver_source_to_dl'),
    ('default', 4, 'Check sink', 'check_sink', 'driver_dl_to_sink'),
    ('default', 5, 'Load sink', 'load', 'driver_dl_to_sink'),
    ('default', 6, 'Verify sink', 'verify_sink', 'driver_dl_to_sink');

-- sluice: indexes of the REST API's run listings and dashboard figures (revision 0005).
CREATE INDEX ix_runs_started_status ON pipeline_runs_master (started_at, status);
CREATE INDEX ix_runs_triggered_by_id ON pipeline_runs_master (triggered_by, id);
CREATE INDEX ix_runs_table_started ON pipeline_runs_master (source_tablename, started_at);
CREATE INDEX ix_runs_table_hop_id ON pipeline_runs_master (source_tablename, hop, id);
CREATE INDEX ix_runs_table_hop_status ON pipeline_runs_master (source_tablename, hop, status, completed_at);
CREATE INDEX ix_stage_logs_type_started ON pipeline_run_stage_logs (stage_type, started_at, status, rows_processed, time_taken, pipeline_run_id);

-- sluice: REST API tokens; only the SHA-256 of each token is stored.
CREATE TABLE sluice_api_tokens (
    id INTEGER NOT NULL,
    name TEXT,
    role TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE (token_sha256)
);

-- sluice: the dashboard's figures per whole UTC day (revision 0007). sluice_stats_days counts
-- the changes to each day's runs and stage logs; its rollup rows are used while rolled_up = changes.
CREATE TABLE sluice_stats_days (
    day DATE NOT NULL,
    changes INTEGER DEFAULT '0' NOT NULL,
    rolled_up INTEGER,
    PRIMARY KEY (day)
);

-- Runs started on the day, per table and status.
CREATE TABLE sluice_stats_runs (
    day DATE NOT NULL,
    source_tablename TEXT NOT NULL,
    status TEXT NOT NULL,
    runs INTEGER NOT NULL,
    PRIMARY KEY (day, source_tablename, status)
);

-- Stage logs started on the day, per table and stage type: finished (timed) and succeeded.
CREATE TABLE sluice_stats_stages (
    day DATE NOT NULL,
    source_tablename TEXT NOT NULL,
    stage_type TEXT NOT NULL,
    timed INTEGER NOT NULL,
    seconds_sum FLOAT,
    seconds_max FLOAT,
    succeeded INTEGER NOT NULL,
    rows_processed BIGINT,
    PRIMARY KEY (day, source_tablename, stage_type)
);

-- sluice: the triggers that bump a day's changes in the writer's own transaction, for the day of
-- the old and of the new row. A day is matched as the window queries match it: by the text's
-- place between the day's bounds.
CREATE TRIGGER sluice_stats_run_added AFTER INSERT ON pipeline_runs_master
BEGIN
    UPDATE sluice_stats_days SET changes = changes + 1 WHERE day IN (substr(NEW.started_at, 1, 10), date(substr(NEW.started_at, 1, 10), '-1 day')) AND NEW.started_at >= day || 'T00:00:00.000000Z' AND NEW.started_at < date(day, '+1 day') || 'T00:00:00.000000Z';
    UPDATE sluice_stats_days SET changes = changes + 1 WHERE day IN (SELECT substr(started_at, 1, 10) FROM pipeline_run_stage_logs WHERE pipeline_run_id = NEW.id UNION SELECT date(substr(started_at, 1, 10), '-1 day') FROM pipeline_run_stage_logs WHERE pipeline_run_id = NEW.id);
END;

CREATE TRIGGER sluice_stats_run_changed AFTER UPDATE OF status, started_at, source_tablename ON pipeline_runs_master
WHEN OLD.status IS NOT NEW.status OR OLD.started_at IS NOT NEW.started_at OR OLD.source_tablename IS NOT NEW.source_tablename
BEGIN
    UPDATE sluice_stats_days SET changes = changes + 1 WHERE (day IN (substr(OLD.started_at, 1, 10), date(substr(OLD.started_at, 1, 10), '-1 day')) AND OLD.started_at >= day || 'T00:00:00.000000Z' AND OLD.started_at < date(day, '+1 day') || 'T00:00:00.000000Z') OR (day IN (substr(NEW.started_at, 1, 10), date(substr(NEW.started_at, 1, 10), '-1 day')) AND NEW.started_at >= day || 'T00:00:00.000000Z' AND NEW.started_at < date(day, '+1 day') || 'T00:00:00.000000Z');
    UPDATE sluice_stats_days SET changes = changes + 1 WHERE OLD.source_tablename IS NOT NEW.source_tablename AND day IN (SELECT substr(started_at, 1, 10) FROM pipeline_run_stage_logs WHERE pipeline_run_id = NEW.id UNION SELECT date(substr(started_at, 1, 10), '-1 day') FROM pipeline_run_stage_logs WHERE pipeline_run_id = NEW.id);
END;

CREATE TRIGGER sluice_stats_run_removed AFTER DELETE ON pipeline_runs_master
BEGIN
    UPDATE sluice_stats_days SET changes = changes + 1 WHERE day IN (substr(OLD.started_at, 1, 10), date(substr(OLD.started_at, 1, 10), '-1 day')) AND OLD.started_at >= day || 'T00:00:00.000000Z' AND OLD.started_at < date(day, '+1 day') || 'T00:00:00.000000Z';
    UPDATE sluice_stats_days SET changes = changes + 1 WHERE day IN (SELECT substr(started_at, 1, 10) FROM pipeline_run_stage_logs WHERE pipeline_run_id = OLD.id UNION SELECT date(substr(started_at, 1, 10), '-1 day') FROM pipeline_run_stage_logs WHERE pipeline_run_id = OLD.id);
END;

CREATE TRIGGER sluice_stats_stage_log_added AFTER INSERT ON pipeline_run_stage_logs
BEGIN
    UPDATE sluice_stats_days SET changes = changes + 1 WHERE day IN (substr(NEW.started_at, 1, 10), date(substr(NEW.started_at, 1, 10), '-1 day')) AND NEW.started_at >= day || 'T00:00:00.000000Z' AND NEW.started_at < date(day, '+1 day') || 'T00:00:00.000000Z';
END;

CREATE TRIGGER sluice_stats_stage_log_changed AFTER UPDATE OF status, rows_processed, time_taken, started_at, stage_type, pipeline_run_id ON pipeline_run_stage_logs
WHEN OLD.status IS NOT NEW.status OR OLD.rows_processed IS NOT NEW.rows_processed OR OLD.time_taken IS NOT NEW.time_taken OR OLD.started_at IS NOT NEW.started_at OR OLD.stage_type IS NOT NEW.stage_type OR OLD.pipeline_run_id IS NOT NEW.pipeline_run_id
BEGIN
    UPDATE sluice_stats_days SET changes = changes + 1 WHERE (day IN (substr(OLD.started_at, 1, 10), date(substr(OLD.started_at, 1, 10), '-1 day')) AND OLD.started_at >= day || 'T00:00:00.000000Z' AND OLD.started_at < date(day, '+1 day') || 'T00:00:00.000000Z') OR (day IN (substr(NEW.started_at, 1, 10), date(substr(NEW.started_at, 1, 10), '-1 day')) AND NEW.started_at >= day || 'T00:00:00.000000Z' AND NEW.started_at < date(day, '+1 day') || 'T00:00:00.000000Z');
END;

CREATE TRIGGER sluice_stats_stage_log_removed AFTER DELETE ON pipeline_run_stage_logs
BEGIN
    UPDATE sluice_stats_days SET changes = changes + 1 WHERE day IN (substr(OLD.started_at, 1, 10), date(substr(OLD.started_at, 1, 10), '-1 day')) AND OLD.started_at >= day || 'T00:00:00.000000Z' AND OLD.started_at < date(day, '+1 day') || 'T00:00:00.000000Z';
END;

-- sluice: the lake's Iceberg catalog (0015), pyiceberg's SQL catalog tables as it makes them.
CREATE TABLE iceberg_tables (
    catalog_name VARCHAR(255) NOT NULL,
    table_namespace VARCHAR(255) NOT NULL,
    table_name VARCHAR(255) NOT NULL,
    metadata_location VARCHAR(1000),
    previous_metadata_location VARCHAR(1000),
    iceberg_type VARCHAR(5),
    PRIMARY KEY (catalog_name, table_namespace, table_name)
);

CREATE TABLE iceberg_namespace_properties (
    catalog_name VARCHAR(255) NOT NULL,
    namespace VARCHAR(255) NOT NULL,
    property_key VARCHAR(255) NOT NULL,
    property_value VARCHAR(1000) NOT NULL,
    PRIMARY KEY (catalog_name, namespace, property_key)
);

-- A stage's start moves its run (0014): the run's current stage and heartbeat follow the
-- stage log row that starts it.
CREATE TRIGGER sluice_run_stage_started AFTER INSERT ON pipeline_run_stage_logs
BEGIN
    UPDATE pipeline_runs_master SET current_stage = NEW.stage_order, heartbeat_at = NEW.started_at WHERE id = NEW.pipeline_run_id;
END;

-- sluice: a partitioned extract's ranges, and stage tasks' claims (0016).
CREATE TABLE sluice_stage_partitions (
    fan_id TEXT NOT NULL,
    partition_no INTEGER NOT NULL,
    run_id INTEGER NOT NULL,
    stage_order INTEGER NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    claimed_by TEXT,
    rows INTEGER DEFAULT '0' NOT NULL,
    result TEXT,
    error TEXT,
    beat_at TIMESTAMP,
    PRIMARY KEY (fan_id, partition_no),
    FOREIGN KEY(run_id) REFERENCES pipeline_runs_master (id) ON DELETE CASCADE
);

CREATE TABLE sluice_stage_claims (
    task_id TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    claimed_by TEXT NOT NULL,
    beat_at TIMESTAMP NOT NULL,
    answer TEXT,
    PRIMARY KEY (task_id),
    FOREIGN KEY(run_id) REFERENCES pipeline_runs_master (id) ON DELETE CASCADE
);

-- sluice: where alerts go, and what each hop was last announced as (0018).
CREATE TABLE sluice_alert_targets (
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    tables TEXT,
    PRIMARY KEY (name)
);

CREATE TABLE sluice_alert_states (
    source_tablename TEXT NOT NULL,
    hop TEXT NOT NULL,
    state TEXT NOT NULL,
    run_id INTEGER,
    changed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source_tablename, hop)
);

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version (version_num) VALUES ('0021');
